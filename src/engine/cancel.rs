//! Cancellation: the CLI triggers it (SIGTERM/SIGINT); the engine stops starting tasks, drops
//! the running module calls (which ends their commands), closes connections and returns 99,
//! ansible-playbook's code for an interrupted run ("User interrupted execution").

use std::sync::Arc;
use tokio::sync::watch;

/// A cancel flag shared between the CLI and the engine. Cloning shares the same flag.
#[derive(Clone, Debug)]
pub struct Cancel {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        let (tx, _rx) = watch::channel(false);
        Cancel { tx: Arc::new(tx) }
    }

    /// Asks the run to stop.
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once [`Cancel::cancel`] has been called.
    pub async fn cancelled(&self) {
        let mut rx = self.tx.subscribe();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                // The sender lives in `self`, so this cannot happen; wait forever to be safe.
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_wakes_waiters() {
        let c = Cancel::new();
        let c2 = c.clone();
        assert!(!c.is_cancelled());
        let waiter = async move { c2.cancelled().await };
        c.cancel();
        waiter.await;
        assert!(c.is_cancelled());
    }
}
