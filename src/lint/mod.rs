pub mod inventory;
pub mod shapes;
