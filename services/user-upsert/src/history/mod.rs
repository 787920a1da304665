//! A member's history (R17): every event of the member is kept ([`stored`]), and its state is
//! the fold of them all in timestamp order ([`fold`]), so events arriving late, twice or out
//! of order give the same state as the events applied once in order.

pub mod fold;
pub mod stored;
