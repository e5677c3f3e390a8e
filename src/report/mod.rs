//! The HTML report of the history (`qod report`): the latest decision, a
//! chart per metric ([`chart`], SVG drawn with plotters) and the recent runs,
//! in one self-contained page ([`html`]). The outputs of a single decision
//! (JUnit, Markdown, GitHub) are apart, in [`crate::outputs`].

pub mod chart;
pub mod html;
