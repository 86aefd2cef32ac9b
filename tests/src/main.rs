//! The mailmig CLI under test: identical to the `mailmig` binary.

fn main() {
    mailmig::main_entry()
}
