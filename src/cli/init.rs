//! `qod init` on the command line: what was found, then the files printed,
//! or written after asking (on a terminal) or with `--yes`.

use super::render::Printer;
use crate::commands::{self, CommandError};
use crate::exit::Exit;

/// `qod init`: what was found, then the files printed or written.
pub(super) fn init(args: super::args::InitArgs, p: &Printer) -> Result<Exit, CommandError> {
    use std::io::IsTerminal;
    let opts = commands::init::InitOptions {
        dir: args.dir.clone(),
        ci: args.ci,
        harness: args.harness,
        force: args.force,
        tolerance: args.tolerance,
    };
    let planned = commands::init::plan(&opts)?;
    for f in &planned.found {
        p.note(&format!("qod: {f}"));
    }
    if args.print {
        for f in &planned.files {
            p.data(&format!("# ── {} ──\n{}", f.path, f.text))?;
        }
        return Ok(Exit::Pass);
    }
    let names: Vec<String> = planned
        .files
        .iter()
        .map(|f| format!("`{}`", f.path))
        .collect();
    let names = names.join(" and ");
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CommandError::Usage(format!(
                "qod init would write {names}: pass `--yes` to write them (in a script), or `--print` to see them"
            )));
        }
        eprint!("qod: write {names}? [y/N] ");
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            p.note("qod: nothing written");
            return Ok(Exit::Pass);
        }
    }
    commands::init::write(&args.dir, &planned, args.force)?;
    let include = if planned.files.iter().any(|f| f.path == "qod.gitlab-ci.yml") {
        " (and `include: [{ local: qod.gitlab-ci.yml }]` in `.gitlab-ci.yml`)"
    } else {
        ""
    };
    p.note(&format!(
        "qod: wrote {names}; next: commit these two files{include} and open a pull request; `qod validate` checks the policy, `qod run --base {}` tries it here",
        planned.default_branch
    ));
    Ok(Exit::Pass)
}
