//! One integration-test binary (each extra binary would link the whole tree again).

mod helpers;
mod lifecycle;
mod service;
