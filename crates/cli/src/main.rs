//! The `mailmig` binary; see the library crate for the commands.

fn main() {
    mailmig::main_entry()
}
