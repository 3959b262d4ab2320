//! Runs futures concurrently on the current task and collects their outputs in order.
//! (The engine borrows its run state, so host futures are not spawned: they are polled
//! together here, which is all an I/O-bound host loop needs.)

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

/// Polls all futures until every one is done; outputs in input order.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut all_done = true;
        for (fut, out) in pending.iter_mut().zip(outputs.iter_mut()) {
            if out.is_some() {
                continue;
            }
            match fut.as_mut().poll(cx) {
                Poll::Ready(v) => *out = Some(v),
                Poll::Pending => all_done = false,
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn runs_concurrently_and_keeps_order() {
        let start = std::time::Instant::now();
        let futs: Vec<_> = (0..5u64)
            .map(|i| async move {
                tokio::time::sleep(Duration::from_millis(100 - i * 10)).await;
                i
            })
            .collect();
        let out = join_all(futs).await;
        assert_eq!(out, vec![0, 1, 2, 3, 4]);
        assert!(start.elapsed() < Duration::from_millis(300));
    }
}
