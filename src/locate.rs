//! Finding where a JSON Pointer points in the text of a YAML or JSON file,
//! so that a problem found on the parsed document can name a line and
//! column. JSON is read as YAML (a JSON document is a YAML flow document).

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Line and column (both 1-based) of every node, by JSON Pointer.
#[derive(Debug, Clone, Default)]
pub struct Positions(HashMap<String, (usize, usize)>);

impl Positions {
    /// Positions of the nodes of the first document in `text`; empty when
    /// the text does not parse.
    pub fn of(text: &str) -> Positions {
        let mut r = Recorder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut r, false).is_err() {
            return Positions::default();
        }
        Positions(r.found)
    }

    /// Where `pointer` points, or its nearest ancestor that exists.
    pub fn find(&self, pointer: &str) -> Option<(usize, usize)> {
        // The root is not a place worth naming: the whole file is.
        let mut p = pointer.trim_end_matches('/');
        while !p.is_empty() {
            if let Some(pos) = self.0.get(p) {
                return Some(*pos);
            }
            p = &p[..p.rfind('/')?];
        }
        None
    }
}

enum Frame {
    Map { key: Option<String> },
    Seq { index: usize },
}

#[derive(Default)]
struct Recorder {
    frames: Vec<Frame>,
    path: Vec<String>,
    found: HashMap<String, (usize, usize)>,
    done: bool,
}

fn escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

impl Recorder {
    fn pointer(&self, last: Option<&str>) -> String {
        self.path
            .iter()
            .map(String::as_str)
            .chain(last)
            .map(|s| format!("/{s}"))
            .collect()
    }

    /// The segment a new value node gets, or `None` when it is a map key.
    fn segment(&self) -> Option<Option<String>> {
        match self.frames.last() {
            None => Some(None),
            Some(Frame::Map { key: None }) => None,
            Some(Frame::Map { key: Some(k) }) => Some(Some(escape(k))),
            Some(Frame::Seq { index }) => Some(Some(index.to_string())),
        }
    }

    /// A value node ended: the parent moves on.
    fn advance(&mut self) {
        match self.frames.last_mut() {
            Some(Frame::Map { key }) => *key = None,
            Some(Frame::Seq { index }) => *index += 1,
            None => self.done = true,
        }
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.done {
            return;
        }
        let pos = (mark.line(), mark.col() + 1);
        match ev {
            Event::Scalar(value, ..) => match self.segment() {
                None => {
                    // A key: point at it until its value is seen.
                    let ptr = self.pointer(Some(&escape(&value)));
                    self.found.insert(ptr, pos);
                    if let Some(Frame::Map { key }) = self.frames.last_mut() {
                        *key = Some(value);
                    }
                }
                Some(seg) => {
                    self.found.insert(self.pointer(seg.as_deref()), pos);
                    self.advance();
                }
            },
            Event::Alias(_) => {
                if let Some(seg) = self.segment() {
                    self.found.insert(self.pointer(seg.as_deref()), pos);
                }
                self.advance();
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let Some(seg) = self.segment() else {
                    // Complex keys do not occur in qod's files; skip their contents.
                    self.frames.push(Frame::Map { key: None });
                    return;
                };
                self.found.insert(self.pointer(seg.as_deref()), pos);
                if let Some(s) = seg {
                    self.path.push(s);
                }
                self.frames.push(if matches!(ev, Event::MappingStart(..)) {
                    Frame::Map { key: None }
                } else {
                    Frame::Seq { index: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.frames.pop();
                if !self.frames.is_empty() {
                    self.path.pop();
                }
                self.advance();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_block_and_flow() {
        let text = "version: 1\nplugins:\n  build: { uses: emit, with: { x: 1 } }\nobjectives:\n  - id: a\n    pass: [\"< 1\", \"< 2\"]\n";
        let p = Positions::of(text);
        assert_eq!(p.find("/version"), Some((1, 10)));
        assert_eq!(p.find("/plugins/build/uses"), Some((3, 18)));
        assert_eq!(p.find("/objectives/0/id"), Some((5, 9)));
        assert_eq!(p.find("/objectives/0/pass/1"), Some((6, 19)));
        // A pointer below a scalar falls back to the nearest node.
        assert_eq!(p.find("/plugins/build/with/x/y"), Some((3, 35)));
        assert_eq!(p.find("/nope"), None);
    }

    #[test]
    fn json_documents() {
        let p = Positions::of("{\"version\": 1,\n \"objectives\": [{\"id\": \"x\"}]}");
        assert_eq!(p.find("/objectives/0/id"), Some((2, 24)));
    }
}
