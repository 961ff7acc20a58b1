//! The house's own rules, checked: the source tree's shape (`source_layout`: file and
//! function lengths, one reader, the dependency table, `lib.rs`'s layout list, no circle
//! of files) and the documentation's (`docs`: every relative link resolves, every page is
//! on the index).

mod docs;
mod source_layout;
