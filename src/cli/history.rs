//! `qod history exclude|include`: marks a run as excluded from baselines,
//! or takes that back.

use super::args::{Format, HistoryAction};
use super::block_on;
use super::render::Printer;
use crate::commands::{self, CommandError, Env};
use crate::exit::Exit;

pub(super) fn mark(p: &Printer, env: &Env, action: HistoryAction) -> Result<Exit, CommandError> {
    let (exclude, args) = match action {
        HistoryAction::Exclude(a) => (true, a),
        HistoryAction::Include(a) => (false, a),
    };
    let marker = block_on(commands::history::exclude(
        env,
        &args.store.store,
        &args.run_id,
        &args.reason,
        exclude,
    ))?;
    let line = format!(
        "run `{}` is {} baselines ({})",
        marker.run_id,
        if exclude { "excluded from" } else { "back in" },
        crate::diag::printable(&marker.reason)
    );
    match args.format.or(Format::Table) {
        Format::Json => {
            p.note(&format!("qod: {line}"));
            p.json(&marker)?;
        }
        Format::Table => p.data(&format!("qod: {line}"))?,
    }
    Ok(Exit::Pass)
}
