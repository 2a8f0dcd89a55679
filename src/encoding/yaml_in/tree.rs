//! The node tree of one YAML document, built from saphyr-parser events the
//! way go-yaml v2's `parser` builds its `node` tree.
//!
//! go-yaml parses a whole document into nodes before it decodes anything, so
//! syntax errors always win over decoding errors; it reads only the FIRST
//! document of its input and stops as soon as that document's end event is
//! produced, never looking at what follows. Anchors are registered when a
//! node starts (so an alias inside its own anchor's node finds it, and the
//! decoder then reports the cycle), and a later anchor of the same name
//! replaces the earlier one for the aliases after it.
//!
//! saphyr-parser is a YAML 1.2 parser; go-yaml is libyaml's YAML 1.1 scanner.
//! Their error texts differ, so [`go_error`] maps saphyr's messages onto
//! libyaml's, and reproduces go-yaml's line quirk: scanner errors report the
//! 1-based line, parser errors the 0-based one, and neither says a line when
//! the problem is on the first line.

use std::borrow::Cow;
use std::cell::RefCell;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

/// Index of a node in [`Tree::nodes`].
pub(super) type NodeId = usize;

/// go-yaml's limits on nesting: `max_flow_level` open flow collections
/// and `max_indents` block indentation levels, each counted on its own
/// (`scannerc.go`), so a document may nest up to 10,000 of each.
pub(super) const MAX_DEPTH: usize = 10_000;

pub(super) struct Tree<'a> {
    /// The parsed text, which scalar spans point into.
    text: &'a str,
    pub nodes: Vec<Node>,
    /// `None` for a document without content (empty or comments only).
    pub root: Option<NodeId>,
    /// Deepest nesting seen, to size the stack of the decoder.
    pub max_depth: usize,
}

pub(super) struct Node {
    pub data: NodeData,
    /// 1-based line and 0-based character column in the parsed text.
    pub line: usize,
    pub col: usize,
}

pub(super) enum NodeData {
    Scalar {
        value: ScalarText,
        /// The full tag (`tag:yaml.org,2002:str`, `!foo`, `!`), if any.
        tag: Option<String>,
        plain: bool,
    },
    Sequence(Vec<NodeId>),
    /// Keys and values alternate.
    Mapping(Vec<NodeId>),
    Alias {
        target: NodeId,
        name: String,
    },
}

/// A scalar's text: a span of the parsed text when saphyr could borrow it
/// (most plain scalars), else its own string. Spans keep nodes free of the
/// text's lifetime, so their list can be reused from document to document.
pub(super) enum ScalarText {
    Span { start: usize, end: usize },
    Owned(String),
}

thread_local! {
    /// Node lists of finished trees, reused: a large list allocated afresh
    /// for every document costs page faults.
    static NODE_POOL: RefCell<Vec<Node>> = const { RefCell::new(Vec::new()) };
}

impl<'a> Tree<'a> {
    /// The text of a scalar node's value.
    pub(super) fn scalar_text<'t>(&'t self, value: &'t ScalarText) -> &'t str {
        match value {
            ScalarText::Span { start, end } => self.text.get(*start..*end).unwrap_or_default(),
            ScalarText::Owned(text) => text,
        }
    }
}

impl Drop for Tree<'_> {
    fn drop(&mut self) {
        let mut nodes = std::mem::take(&mut self.nodes);
        nodes.clear();
        NODE_POOL.with_borrow_mut(|pool| {
            if nodes.capacity() > pool.capacity() {
                *pool = nodes;
            }
        });
    }
}

/// Where `value` lies in `text`, when it is a slice of it.
fn scalar_text(text: &str, value: Cow<'_, str>) -> ScalarText {
    if let Cow::Borrowed(slice) = &value {
        let start = (slice.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        let end = start.wrapping_add(slice.len());
        if start <= end && text.get(start..end).is_some_and(|found| std::ptr::eq(found, *slice)) {
            return ScalarText::Span { start, end };
        }
    }
    ScalarText::Owned(value.into_owned())
}

/// A syntax error: go-yaml's text and the position saphyr found it at.
#[derive(Debug)]
pub(super) struct SyntaxError {
    pub message: String,
    /// 1-based line and 0-based character column in the parsed text.
    pub line: usize,
    pub col: usize,
    /// saphyr refused indentation that libyaml accepts (see `relax`).
    pub relaxable: bool,
}

/// Parses the first document of `text` into nodes.
pub(super) fn build(text: &str) -> Result<Tree<'_>, SyntaxError> {
    let mut builder = Builder {
        text,
        nodes: NODE_POOL.with_borrow_mut(std::mem::take),
        stack: Vec::new(),
        anchors: Vec::new(),
        max_depth: 0,
        flow_depth: 0,
        indents: 0,
        ascii: text.is_ascii(),
        cursor: (0, 0),
    };
    let mut parser = Parser::new_from_str(text);
    let mut root = None;
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(pair) => pair,
            Err(error) => {
                let root_done = root.is_some() && builder.stack.is_empty();
                match builder.syntax_error(&error, root_done) {
                    Some(error) => return Err(error),
                    None => break,
                }
            }
        };
        match event {
            Event::StreamEnd => break,
            Event::DocumentEnd if root.is_some() => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) | Event::DocumentEnd => {}
            Event::Scalar(value, style, anchor_id, tag) => {
                let data = NodeData::Scalar {
                    value: scalar_text(text, value),
                    tag: tag.map(|tag| full_tag(&tag)),
                    plain: matches!(style, ScalarStyle::Plain),
                };
                let id = builder.add(data, span, anchor_id);
                if builder.stack.is_empty() {
                    root = Some(id);
                }
            }
            Event::Alias(anchor_id) => {
                let target = builder.anchors.get(anchor_id).copied().flatten();
                let name = builder.alias_name(span);
                let Some(target) = target else {
                    return Err(unknown_anchor(&name, span));
                };
                let id = builder.add(NodeData::Alias { target, name }, span, 0);
                if builder.stack.is_empty() {
                    root = Some(id);
                }
            }
            Event::SequenceStart(anchor_id, _) | Event::MappingStart(anchor_id, _) => {
                let data = if matches!(event, Event::SequenceStart(..)) {
                    NodeData::Sequence(Vec::new())
                } else {
                    NodeData::Mapping(Vec::new())
                };
                let nesting = builder.nesting(&event, span);
                let id = builder.add(data, span, anchor_id);
                if builder.stack.is_empty() {
                    root = Some(id);
                }
                builder.stack.push(Open { id, nesting });
                builder.max_depth = builder.max_depth.max(builder.stack.len());
                let depth = match nesting {
                    Nesting::Flow => {
                        builder.flow_depth += 1;
                        builder.flow_depth
                    }
                    Nesting::Indent => {
                        builder.indents += 1;
                        builder.indents
                    }
                    Nesting::Indentless => 0,
                };
                if depth > MAX_DEPTH {
                    // go-yaml stops where it opens the level: at the `[` or
                    // `{` (just before the span's end), the `-` or the key.
                    let col = if nesting == Nesting::Flow {
                        span.end.col().saturating_sub(1)
                    } else {
                        span.end.col()
                    };
                    return Err(SyntaxError {
                        message: go_error_text(&format!("exceeded max depth of {MAX_DEPTH}"), Stage::Scanner, span.end.line()),
                        line: span.end.line(),
                        col,
                        relaxable: false,
                    });
                }
            }
            Event::SequenceEnd | Event::MappingEnd => match builder.stack.pop().map(|open| open.nesting) {
                Some(Nesting::Flow) => builder.flow_depth -= 1,
                Some(Nesting::Indent) => builder.indents -= 1,
                Some(Nesting::Indentless) | None => {}
            },
        }
    }
    Ok(Tree {
        text,
        nodes: builder.nodes,
        root,
        max_depth: builder.max_depth,
    })
}

struct Builder<'a> {
    text: &'a str,
    nodes: Vec<Node>,
    /// Collections being filled, innermost last.
    stack: Vec<Open>,
    /// saphyr's anchor ids (one per `&name` occurrence) to nodes.
    anchors: Vec<Option<NodeId>>,
    max_depth: usize,
    /// Open flow collections (go-yaml's `flow_level`).
    flow_depth: usize,
    /// Open block collections that took an indentation level (go-yaml's
    /// `indents`).
    indents: usize,
    /// Character indices are byte offsets.
    ascii: bool,
    /// The last character index turned into a byte offset, and that offset:
    /// events come in text order, so [`Builder::byte_offset`] only walks
    /// forward.
    cursor: (usize, usize),
}

/// A collection being filled.
struct Open {
    id: NodeId,
    nesting: Nesting,
}

/// Which of go-yaml's nesting limits a collection counts against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nesting {
    /// `[` or `{`: one flow level.
    Flow,
    /// A block collection that starts further right than the one around
    /// it: one indentation level.
    Indent,
    /// A block sequence whose `-` sits at its mapping key's column
    /// (`key:\n- a`): libyaml opens no indentation level for it.
    Indentless,
}

impl<'a> Builder<'a> {
    /// Which limit a collection that starts at `span` counts against.
    /// saphyr's events do not say flow or block, but their spans do: a
    /// block collection's span ends where its first key or `-` is (after
    /// any anchor or tag), a flow collection's just after its `[` or `{`,
    /// and a block collection never starts right after one of those.
    fn nesting(&mut self, event: &Event<'_>, span: Span) -> Nesting {
        let parent = self.stack.last().map(|open| (open.id, open.nesting));
        if matches!(parent, Some((_, Nesting::Flow))) {
            return Nesting::Flow;
        }
        let end = self.byte_offset(span.end.index());
        let before = &self.text[..end];
        if span.end.index() > span.start.index() && before.ends_with(['[', '{']) {
            return Nesting::Flow;
        }
        // An indentless sequence is a mapping's value whose span ends
        // after the `- ` that opened it, where a nested block sequence's
        // ends at its own `-`, with only indentation before it.
        let Some((parent, _)) = parent else {
            return Nesting::Indent;
        };
        let in_value = matches!(&self.nodes[parent].data, NodeData::Mapping(children) if children.len() % 2 == 1);
        if matches!(event, Event::SequenceStart(..)) && in_value {
            let line = before.rsplit_once(['\n', '\r']).map_or(before, |(_, line)| line);
            if line.trim_start().starts_with('-') {
                return Nesting::Indentless;
            }
        }
        Nesting::Indent
    }

    /// The byte offset of the `index`-th character of the text.
    fn byte_offset(&mut self, index: usize) -> usize {
        if self.ascii {
            return index.min(self.text.len());
        }
        let (mut chars, mut bytes) = if index >= self.cursor.0 { self.cursor } else { (0, 0) };
        for c in self.text[bytes..].chars() {
            if chars == index {
                break;
            }
            chars += 1;
            bytes += c.len_utf8();
        }
        self.cursor = (chars, bytes);
        bytes
    }

    fn add(&mut self, data: NodeData, span: Span, anchor_id: usize) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            data,
            line: span.start.line(),
            col: span.start.col(),
        });
        if let Some(&Open { id: parent, .. }) = self.stack.last() {
            match &mut self.nodes[parent].data {
                NodeData::Sequence(children) | NodeData::Mapping(children) => children.push(id),
                NodeData::Scalar { .. } | NodeData::Alias { .. } => {}
            }
        }
        if anchor_id != 0 {
            if self.anchors.len() <= anchor_id {
                self.anchors.resize(anchor_id + 1, None);
            }
            self.anchors[anchor_id] = Some(id);
        }
        id
    }

    /// The name written after `*` at the alias's position.
    fn alias_name(&self, span: Span) -> String {
        let offset = char_to_byte(self.text, span.start.index());
        let after_star = self.text[offset..].strip_prefix('*').unwrap_or(&self.text[offset..]);
        after_star
            .chars()
            .take_while(|&c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
            .collect()
    }

    /// go-yaml's error for a saphyr error; `None` when libyaml would not
    /// have failed because the document was already complete.
    fn syntax_error(&self, error: &ScanError, root_done: bool) -> Option<SyntaxError> {
        let marker = error.marker();
        if error.info() == "while parsing node, found unknown anchor" {
            let offset = char_to_byte(self.text, marker.index());
            let span = Span::new(*marker, *marker);
            let after_star = self.text[offset..].strip_prefix('*').unwrap_or(&self.text[offset..]);
            let name: String = after_star
                .chars()
                .take_while(|&c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
                .collect();
            return Some(unknown_anchor(&name, span));
        }
        let (problem, stage) = go_problem(error.info());
        // After the root node, libyaml only needs the next token to end the
        // document: a token it can scan ends it fine, whatever it is.
        if root_done && stage == Stage::Parser {
            return None;
        }
        let message = go_error_text(&problem, stage, marker.line());
        let relaxable = matches!(
            error.info(),
            "invalid indentation"
                | "invalid indentation in quoted scalar"
                | "invalid indentation in flow construct"
                | "tabs disallowed within this context (block indentation)"
                | "tab cannot be used as indentation"
                | "tabs disallowed in this context"
        );
        Some(SyntaxError {
            message,
            line: marker.line(),
            col: marker.col(),
            relaxable,
        })
    }
}

/// go-yaml fails on an unknown alias while building nodes, without a line.
fn unknown_anchor(name: &str, span: Span) -> SyntaxError {
    SyntaxError {
        message: format!("yaml: unknown anchor '{name}' referenced"),
        line: span.start.line(),
        col: span.start.col(),
        relaxable: false,
    }
}

fn full_tag(tag: &saphyr_parser::Tag) -> String {
    if tag.handle == "!" {
        format!("!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// Byte offset of the `index`-th character.
fn char_to_byte(text: &str, index: usize) -> usize {
    if text.is_ascii() {
        return index.min(text.len());
    }
    text.char_indices().nth(index).map_or(text.len(), |(offset, _)| offset)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    Scanner,
    Parser,
}

/// go-yaml's `parser.fail`: `yaml: line N: problem`, where N is the 1-based
/// line for scanner errors and the 0-based one for parser errors, and no
/// line at all when the problem is on the first line.
pub(super) fn go_error_text(problem: &str, stage: Stage, line: usize) -> String {
    let zero_based = line.saturating_sub(1);
    if zero_based == 0 {
        return format!("yaml: {problem}");
    }
    let shown = match stage {
        Stage::Scanner => zero_based + 1,
        Stage::Parser => zero_based,
    };
    format!("yaml: line {shown}: {problem}")
}

/// libyaml's problem text for a saphyr error message, and whether libyaml
/// raises it in its scanner or its parser.
fn go_problem(info: &str) -> (String, Stage) {
    let (problem, stage) = match info {
        "mapping values are not allowed in this context"
        | "block sequence entries are not allowed in this context"
        | "mapping keys are not allowed in this context" => (info, Stage::Scanner),
        "simple key expect ':'" => ("could not find expected ':'", Stage::Scanner),
        "tabs disallowed within this context (block indentation)"
        | "tab cannot be used as indentation"
        | "tabs disallowed in this context" => ("found character that cannot start any token", Stage::Scanner),
        "while scanning a plain scalar, found a tab" => ("found a tab character that violates indentation", Stage::Scanner),
        "while parsing a block mapping, did not find expected key" | "misplaced bracket" | "invalid indentation" => {
            ("did not find expected key", Stage::Parser)
        }
        "while parsing a block collection, did not find expected '-' indicator" => ("did not find expected '-' indicator", Stage::Parser),
        "while parsing a node, did not find expected node content" => ("did not find expected node content", Stage::Parser),
        "while parsing a flow sequence, expected ',' or ']'" => ("did not find expected ',' or ']'", Stage::Parser),
        "while parsing a flow mapping, did not find expected ',' or '}'" => ("did not find expected ',' or '}'", Stage::Parser),
        "did not find expected <document start>" | "did not find expected <document-start>" => {
            ("did not find expected <document start>", Stage::Parser)
        }
        "the handle wasn't declared" => ("found undefined tag handle", Stage::Parser),
        "while parsing a quoted scalar, did not find expected hexadecimal number" => {
            ("did not find expected hexdecimal number", Stage::Scanner)
        }
        "recursion limit exceeded" => {
            return (format!("exceeded max depth of {MAX_DEPTH}"), Stage::Scanner);
        }
        _ if info.starts_with("unexpected character") => ("found character that cannot start any token", Stage::Scanner),
        // The rest share libyaml's wording after the "while ..., " context.
        _ => match info.split_once(", ") {
            Some((context, problem)) if context.starts_with("while ") => (problem, Stage::Scanner),
            _ => (info, Stage::Scanner),
        },
    };
    (problem.to_string(), stage)
}
