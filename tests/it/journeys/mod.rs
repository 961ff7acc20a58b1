//! A user's way through, run as written: the README's quick start line by line
//! (`quickstart`) and its other blocks in one session (`readme`), the first hour of a new
//! user (`first_hour`), and the gateway binary itself (`gateway_binary`).

mod first_hour;
mod gateway_binary;
mod one_build;
mod quickstart;
mod readme;
