//! Re-indents lines that libyaml accepts under-indented and YAML 1.2 does not.
//!
//! YAML 1.2 (saphyr-parser) wants every line of a flow collection and every
//! continuation line of a quoted scalar indented deeper than the enclosing
//! block, with spaces. libyaml (go-yaml v2) checks neither, so opm loads
//! files such as the mariadb CSVs of the corpus, whose double-quoted
//! description continues on lines starting with a tab, or a `command: [`
//! list closed by a `]` at column 0. In both places the leading whitespace
//! of a line is only separation, so it can be rewritten without changing any
//! value: this pass widens it to spaces reaching past the column where the
//! quote or the outermost bracket opened, and the document is parsed again.
//!
//! The pass is a light lexer (quotes, brackets, comments, block scalars),
//! used only as a retry after saphyr rejected a document for one of these
//! reasons, so a lexing mistake can only affect text that failed anyway.

/// A line whose leading whitespace was rewritten: 1-based line, old and new
/// width in characters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reindent {
    pub line: usize,
    pub old_width: usize,
    pub new_width: usize,
}

/// The relaxed text and the lines it changed (`None` if nothing changed).
pub(super) fn reindent(text: &str) -> Option<(String, Vec<Reindent>)> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut changes = Vec::new();
    let mut quote: Option<(char, usize)> = None;
    let mut flow_depth = 0usize;
    let mut flow_open_col = 0usize;
    // Indentation of a block scalar's header line while inside its content.
    let mut block_scalar: Option<usize> = None;
    for (line_idx, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let blank_run: usize = body.chars().take_while(|&c| c == ' ' || c == '\t').count();
        let content = &body[blank_run..];
        if let Some(header_indent) = block_scalar {
            let indent = body.chars().take_while(|&c| c == ' ').count();
            if content.is_empty() || indent > header_indent {
                out.push_str(line);
                continue;
            }
            block_scalar = None;
        }
        let required = match (quote, flow_depth) {
            (Some((_, open_col)), _) => Some(open_col + 1),
            (None, depth) if depth > 0 => Some(flow_open_col + 1),
            _ => None,
        };
        let mut rest = line;
        let mut col = 0;
        if let Some(required) = required
            && !content.is_empty()
            && !(blank_run == 0 && (content.starts_with("...") || content.starts_with("---")))
            && (blank_run < required || body[..blank_run].contains('\t'))
        {
            let new_width = blank_run.max(required);
            out.push_str(&" ".repeat(new_width));
            changes.push(Reindent {
                line: line_idx + 1,
                old_width: blank_run,
                new_width,
            });
            rest = &line[blank_run..];
            col = new_width;
        }
        let header_indent = body.chars().take_while(|&c| c == ' ').count();
        let mut previous: Option<char> = None;
        let mut chars = rest.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            if let Some((quote_char, _)) = quote {
                if c == '\\' && quote_char == '"' {
                    if let Some(&(_, escaped)) = chars.peek()
                        && escaped != '\n'
                        && escaped != '\r'
                    {
                        chars.next();
                        col += 1;
                    }
                } else if c == quote_char {
                    if quote_char == '\'' && chars.peek().map(|&(_, next)| next) == Some('\'') {
                        chars.next();
                        col += 1;
                    } else {
                        quote = None;
                    }
                }
            } else {
                let at_token_start = match previous {
                    None => true,
                    Some(before) if before == ' ' || before == '\t' => true,
                    Some(before) => flow_depth > 0 && matches!(before, '[' | '{' | ',' | ':'),
                };
                match c {
                    '#' if at_token_start => break,
                    '"' | '\'' if at_token_start => quote = Some((c, col)),
                    '[' | '{' if flow_depth > 0 || at_token_start => {
                        if flow_depth == 0 {
                            flow_open_col = col;
                        }
                        flow_depth += 1;
                    }
                    ']' | '}' if flow_depth > 0 => flow_depth -= 1,
                    '|' | '>' if flow_depth == 0 && at_token_start => block_scalar = Some(header_indent),
                    _ => {}
                }
            }
            previous = Some(c);
            col += 1;
        }
        if changes.last().is_some_and(|change| change.line == line_idx + 1) {
            out.push_str(&line[blank_run..]);
        } else {
            out.push_str(line);
        }
    }
    if changes.is_empty() { None } else { Some((out, changes)) }
}

/// Maps a column of the relaxed text back to the original line.
pub(super) fn original_col(changes: &[Reindent], line: usize, col: usize) -> usize {
    match changes.binary_search_by_key(&line, |change| change.line) {
        Ok(idx) => {
            let change = changes[idx];
            if col >= change.new_width {
                col - change.new_width + change.old_width
            } else {
                col.min(change.old_width)
            }
        }
        Err(_) => col,
    }
}
