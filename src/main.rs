//! The `qod` binary: all the work is in the library.

fn main() -> std::process::ExitCode {
    qod::cli::main()
}
