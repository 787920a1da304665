//! The items a worker applies together, each with its message's span. Outcomes go back to the
//! messages by position, and only the runtime does that: a worker returns one outcome per item,
//! in order, and [`Batch::conclude`] and [`Sides::merge`] keep that order when a worker turns
//! results into outcomes or applies two kinds of item separately.

use tracing::Span;

use super::message::Outcome;

/// Items decoded from the messages that were waiting together (one when the queue is idle).
#[derive(Debug)]
pub struct Batch<T> {
    items: Vec<T>,
    spans: Vec<Span>,
}

impl<T> Batch<T> {
    /// Items, each with its message's span.
    pub fn new(items: Vec<(T, Span)>) -> Self {
        let (items, spans) = items.into_iter().unzip();
        Self { items, spans }
    }

    pub fn items(&self) -> &[T] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// One outcome per item from its result, each decided inside its message's span (so what
    /// `decide` logs carries that message's trace), in the batch's order.
    pub fn conclude<R>(
        &self,
        results: impl IntoIterator<Item = R>,
        mut decide: impl FnMut(&T, R) -> Outcome,
    ) -> Vec<Outcome> {
        self.items
            .iter()
            .zip(&self.spans)
            .zip(results)
            .map(|((item, span), result)| span.in_scope(|| decide(item, result)))
            .collect()
    }

    /// Splits the batch by kind of item, for workers that apply two kinds separately (each
    /// part still one batch); [`Sides::merge`] puts the parts' outcomes back in this order.
    pub fn split<A, B>(self, mut side: impl FnMut(T) -> Side<A, B>) -> (Batch<A>, Batch<B>, Sides) {
        let (mut left, mut right) = (Vec::new(), Vec::new());
        let mut sides = Vec::with_capacity(self.items.len());
        for (item, span) in self.items.into_iter().zip(self.spans) {
            match side(item) {
                Side::Left(a) => {
                    left.push((a, span));
                    sides.push(true);
                }
                Side::Right(b) => {
                    right.push((b, span));
                    sides.push(false);
                }
            }
        }
        (Batch::new(left), Batch::new(right), Sides(sides))
    }
}

/// Which part of a [`Batch::split`] an item goes to.
#[derive(Debug)]
pub enum Side<A, B> {
    Left(A),
    Right(B),
}

/// Where each item of a split batch went.
#[derive(Debug)]
pub struct Sides(Vec<bool>);

impl Sides {
    /// The parts' outcomes in the order of the batch they were split from. A part that returned
    /// fewer outcomes than it had items leaves the result short, which the runtime treats as a
    /// handler bug (every message of the batch goes back to the queue).
    pub fn merge(self, left: Vec<Outcome>, right: Vec<Outcome>) -> Vec<Outcome> {
        let (mut left, mut right) = (left.into_iter(), right.into_iter());
        self.0
            .into_iter()
            .map_while(|is_left| if is_left { left.next() } else { right.next() })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(reason: &str) -> Outcome {
        Outcome::Retry {
            reason: reason.into(),
        }
    }

    #[test]
    fn a_split_batch_gets_its_outcomes_back_in_its_own_order() {
        let batch = Batch::new((0..5).map(|n| (n, Span::none())).collect());
        let (even, odd, sides) = batch.split(|n| {
            if n % 2 == 0 {
                Side::Left(n)
            } else {
                Side::Right(n.to_string())
            }
        });
        assert_eq!(even.items(), [0, 2, 4]);
        assert_eq!(odd.items(), ["1", "3"]);
        let even = even.conclude(even.items().to_vec(), |_, n| retry(&n.to_string()));
        let odd = odd.conclude(odd.items().to_vec(), |_, n| retry(&n));
        let merged = sides.merge(even, odd);
        assert_eq!(
            merged,
            (0..5).map(|n| retry(&n.to_string())).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_part_short_of_outcomes_leaves_the_batch_short() {
        let batch = Batch::new((0..3).map(|n| (n, Span::none())).collect());
        let (left, _, sides) = batch.split(Side::<i32, i32>::Left);
        assert_eq!(left.len(), 3);
        assert_eq!(sides.merge(vec![Outcome::Ack], Vec::new()).len(), 1);
    }
}
