//! A handful of futures run together, each result taken as soon as it is ready: the driver's
//! bounded concurrency without an executor or a dependency. The caller bounds the number (a
//! planner's window); every future is polled on each wake, which is cheap for a few of them and
//! means no wake-up is ever lost.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

pub struct InFlight<'a, K, T> {
    items: Vec<(K, Boxed<'a, T>)>,
    /// Finished during a [`InFlight::kick`], not yet taken.
    done: VecDeque<(K, T)>,
}

impl<K, T> Default for InFlight<'_, K, T> {
    fn default() -> Self {
        InFlight {
            items: Vec::new(),
            done: VecDeque::new(),
        }
    }
}

impl<'a, K, T> InFlight<'a, K, T> {
    pub fn new() -> Self {
        InFlight::default()
    }

    pub fn push(&mut self, key: K, fut: impl Future<Output = T> + 'a) {
        self.items.push((key, Box::pin(fut)));
    }

    pub fn len(&self) -> usize {
        self.items.len() + self.done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Polls every future once without waiting. A future does nothing until polled: a kick
    /// makes freshly pushed requests go out now, so they travel while the caller is busy
    /// elsewhere (handing a page to a slow consumer) instead of at the next `next()`.
    pub async fn kick(&mut self) {
        poll_fn(|cx| {
            let mut i = 0;
            while i < self.items.len() {
                let ready = match self.items.get_mut(i) {
                    Some((_, f)) => f.as_mut().poll(cx),
                    None => break,
                };
                match ready {
                    Poll::Ready(v) => {
                        let (k, _) = self.items.swap_remove(i);
                        self.done.push_back((k, v));
                    }
                    Poll::Pending => i += 1,
                }
            }
            Poll::Ready(())
        })
        .await
    }

    /// The next future to finish, with its key; `None` when there are none.
    pub async fn next(&mut self) -> Option<(K, T)> {
        if let Some(d) = self.done.pop_front() {
            return Some(d);
        }
        if self.items.is_empty() {
            return None;
        }
        poll_fn(|cx| {
            let ready = self.items.iter_mut().enumerate().find_map(|(i, (_, f))| {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => Some((i, v)),
                    Poll::Pending => None,
                }
            });
            match ready {
                Some((i, v)) => {
                    let (k, _) = self.items.swap_remove(i);
                    Poll::Ready(Some((k, v)))
                }
                None => Poll::Pending,
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::pin::pin;
    use std::task::{Context, Waker};

    /// Ready after `n` polls.
    struct After(Cell<u32>);
    impl Future for After {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0.get() == 0 {
                return Poll::Ready(());
            }
            self.0.set(self.0.get() - 1);
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn results_come_in_completion_order() {
        let mut set = InFlight::new();
        for (k, n) in [("slow", 5), ("fast", 1), ("mid", 3)] {
            set.push(k, async move {
                After(Cell::new(n)).await;
                k.len()
            });
        }
        let mut fut = pin!(async {
            let mut order = Vec::new();
            while let Some((k, v)) = set.next().await {
                assert_eq!(k.len(), v);
                order.push(k);
            }
            order
        });
        let mut cx = Context::from_waker(Waker::noop());
        let order = loop {
            if let Poll::Ready(o) = fut.as_mut().poll(&mut cx) {
                break o;
            }
        };
        assert_eq!(order, ["fast", "mid", "slow"]);
    }

    #[test]
    fn a_kick_starts_everything_and_keeps_what_finished() {
        let polled = Cell::new(0);
        let mut set = InFlight::new();
        for (k, n) in [(1, 0), (2, 2), (3, 0)] {
            let polled = &polled;
            set.push(k, async move {
                polled.set(polled.get() + 1);
                After(Cell::new(n)).await;
                k
            });
        }
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pin!(set.kick()).poll(&mut cx).is_ready());
        assert_eq!(polled.get(), 3, "every future ran up to its first wait");
        assert_eq!(set.len(), 3);
        let mut fut = pin!(async {
            let mut order = Vec::new();
            while let Some((k, _)) = set.next().await {
                order.push(k);
            }
            order
        });
        let order = loop {
            if let Poll::Ready(o) = fut.as_mut().poll(&mut cx) {
                break o;
            }
        };
        assert_eq!(order, [1, 3, 2]);
    }
}
