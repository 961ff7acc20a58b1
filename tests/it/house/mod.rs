//! The house's own rules, checked: the source tree's shape (`source_layout`: file and
//! function lengths, one reader, the dependency table, `lib.rs`'s layout list, no circle
//! of files), the pipeline's one entry (`one_entry`) and the documentation's (`docs`: every relative link resolves, every page is
//! on the index).

mod docs;
mod one_entry;
mod source_layout;
