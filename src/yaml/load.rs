//! Builds [`Node`] trees from saphyr-parser events: scalar resolution (YAML 1.1, plain scalars
//! only), explicit core tags and Ansible's `!unsafe` (on a scalar or a whole collection) and
//! `!vault` (refused), anchors and aliases (with an expansion budget against alias bombs),
//! `<<` merge keys and duplicate keys (last value wins, first position kept, as a Python dict).

use super::resolve::{parse_bool, parse_float, parse_int, resolve_plain};
use super::{Mark, Node, Yaml, YamlError};
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, StrInput, Tag};
use std::collections::HashMap;

/// How many nodes aliases (and the kept copies of anchored nodes) may copy in one document:
/// far above real playbooks, far below a bomb.
const ALIAS_NODE_BUDGET: usize = 200_000;
/// Nesting deeper than this is refused instead of overflowing the stack: the loader recurses
/// (several kB of stack per level in a debug build), and a tokio worker has 2 MiB.
const MAX_DEPTH: usize = 256;
const CORE_TAG: &str = "tag:yaml.org,2002:";

pub(super) struct Loader<'a> {
    parser: Parser<'a, StrInput<'a>>,
    file: &'a str,
    anchors: HashMap<usize, Node>,
    alias_budget: usize,
}

fn mark_of(span: &Span) -> Mark {
    Mark {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

impl<'a> Loader<'a> {
    pub(super) fn new(source: &'a str, file: &'a str) -> Loader<'a> {
        Loader {
            parser: Parser::new_from_str(source),
            file,
            anchors: HashMap::new(),
            alias_budget: ALIAS_NODE_BUDGET,
        }
    }

    fn error(&self, mark: Mark, message: impl Into<String>) -> YamlError {
        YamlError {
            file: self.file.to_string(),
            mark,
            message: message.into(),
        }
    }

    fn syntax_error(&self, e: &ScanError) -> YamlError {
        let mark = Mark {
            line: e.marker().line(),
            col: e.marker().col() + 1,
        };
        self.error(
            mark,
            format!("Syntax Error while loading YAML: {}", e.info()),
        )
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(self.syntax_error(&e)),
            None => Err(self.error(Mark::default(), "unexpected end of YAML stream")),
        }
    }

    /// The first document of the stream (later documents are not read).
    pub(super) fn load_first_document(mut self) -> Result<Node, YamlError> {
        let empty = Node {
            value: Yaml::Null,
            mark: Mark { line: 1, col: 1 },
        };
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::Nothing => continue,
                Event::StreamEnd => return Ok(empty),
                Event::DocumentStart(_) => break,
                _ => return Err(self.error(mark_of(&span), "expected a YAML document")),
            }
        }
        let (event, span) = self.next()?;
        if matches!(event, Event::DocumentEnd) {
            return Ok(Node {
                mark: mark_of(&span),
                ..empty
            });
        }
        let node = self.node(event, span, 0)?;
        // Read to the end of this document so syntax errors inside it are reported.
        let (event, span) = self.next()?;
        match event {
            Event::DocumentEnd => Ok(node),
            _ => Err(self.error(mark_of(&span), "expected the end of the YAML document")),
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Node, YamlError> {
        let mark = mark_of(&span);
        if depth > MAX_DEPTH {
            return Err(self.error(mark, "YAML nesting is too deep"));
        }
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                (self.scalar(&text, style, tag.as_deref(), mark)?, anchor)
            }
            Event::Alias(id) => return self.alias(id, mark),
            Event::SequenceStart(anchor, tag) => {
                let tagged_unsafe = self.check_collection_tag(tag.as_deref(), "seq", mark)?;
                let node = self.sequence(mark, depth)?;
                (unsafe_if(tagged_unsafe, node), anchor)
            }
            Event::MappingStart(anchor, tag) => {
                let tagged_unsafe = self.check_collection_tag(tag.as_deref(), "map", mark)?;
                let node = self.mapping(mark, depth)?;
                (unsafe_if(tagged_unsafe, node), anchor)
            }
            _ => return Err(self.error(mark, "unexpected YAML event")),
        };
        if anchor != 0 {
            // The kept copy costs as much as an alias expansion: nested anchors around a big
            // node would otherwise multiply memory without any alias.
            self.charge_copy(node_count(&node), mark)?;
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn alias(&mut self, id: usize, mark: Mark) -> Result<Node, YamlError> {
        let Some(size) = self.anchors.get(&id).map(node_count) else {
            return Err(self.error(mark, "found undefined alias"));
        };
        // Charged before copying, so a bomb is refused before it takes the memory.
        self.charge_copy(size, mark)?;
        let Some(mut copy) = self.anchors.get(&id).cloned() else {
            return Err(self.error(mark, "found undefined alias"));
        };
        copy.mark = mark;
        Ok(copy)
    }

    /// Takes `size` copied nodes from the alias budget, or refuses the document.
    fn charge_copy(&mut self, size: usize, mark: Mark) -> Result<(), YamlError> {
        if size > self.alias_budget {
            return Err(self.error(
                mark,
                format!("alias expansion exceeds the limit of {ALIAS_NODE_BUDGET} nodes (possible alias bomb)"),
            ));
        }
        self.alias_budget -= size;
        Ok(())
    }

    fn sequence(&mut self, mark: Mark, depth: usize) -> Result<Node, YamlError> {
        let mut items = Vec::new();
        loop {
            let (event, span) = self.next()?;
            if matches!(event, Event::SequenceEnd) {
                break;
            }
            items.push(self.node(event, span, depth + 1)?);
        }
        Ok(Node {
            value: Yaml::Seq(items),
            mark,
        })
    }

    fn mapping(&mut self, mark: Mark, depth: usize) -> Result<Node, YamlError> {
        let mut own: Vec<(Node, Node)> = Vec::new();
        let mut merged: Vec<(Node, Node)> = Vec::new();
        loop {
            let (event, span) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let is_merge_key =
                matches!(&event, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<");
            let key = self.node(event, span, depth + 1)?;
            let (event, span) = self.next()?;
            let value = self.node(event, span, depth + 1)?;
            if is_merge_key {
                merged.extend(self.merge_entries(value)?);
            } else {
                if matches!(key.value, Yaml::Seq(_) | Yaml::Map(_)) {
                    return Err(self.error(
                        key.mark,
                        "found unhashable key (always quote template expressions that start a value: \"{{ x }}\")",
                    ));
                }
                own.push((key, value));
            }
        }
        // As PyYAML's flatten_mapping: merged keys first, then the mapping's own keys, which win.
        merged.extend(own);
        Ok(Node {
            value: Yaml::Map(dedup_last_wins(merged)),
            mark,
        })
    }

    /// The entries a `<<` value contributes: one mapping, or a list where earlier mappings win.
    fn merge_entries(&self, value: Node) -> Result<Vec<(Node, Node)>, YamlError> {
        match value.value {
            Yaml::Map(entries) => Ok(entries),
            Yaml::Seq(items) => {
                let mut out = Vec::new();
                for item in items.into_iter().rev() {
                    match item.value {
                        Yaml::Map(entries) => out.extend(entries),
                        _ => {
                            return Err(self.error(
                                item.mark,
                                "while constructing a mapping: expected a mapping for merging",
                            ))
                        }
                    }
                }
                Ok(out)
            }
            _ => Err(self.error(
                value.mark,
                "while constructing a mapping: expected a mapping or list of mappings for merging",
            )),
        }
    }

    /// Accepts a collection's tag: its own core tag, `!!omap`, or `!unsafe` (then `Ok(true)`: every
    /// string inside is unsafe).
    fn check_collection_tag(
        &self,
        tag: Option<&Tag>,
        kind: &str,
        mark: Mark,
    ) -> Result<bool, YamlError> {
        match tag {
            None => Ok(false),
            Some(t) if t.handle == CORE_TAG && (t.suffix == kind || t.suffix == "omap") => {
                Ok(false)
            }
            Some(t) if is_unsafe_tag(t) => Ok(true),
            Some(t) if is_vault_tag(t) => Err(self.vault_error(t, mark)),
            Some(t) => Err(self.error(
                mark,
                format!("could not determine a constructor for the tag '{t}'"),
            )),
        }
    }

    /// Ansible decrypts `!vault` values with a vault password; hook-runner has none.
    fn vault_error(&self, tag: &Tag, mark: Mark) -> YamlError {
        self.error(
            mark,
            format!(
                "found {tag}: vault-encrypted values are not supported (hook-runner has no Ansible Vault password; pass the secret decrypted)"
            ),
        )
    }

    fn scalar(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        mark: Mark,
    ) -> Result<Node, YamlError> {
        let value = match tag {
            None if style == ScalarStyle::Plain => resolve_plain(text),
            None => Yaml::Str(text.to_string()),
            Some(t) => self.tagged_scalar(text, t, mark)?,
        };
        Ok(Node { value, mark })
    }

    /// `!!str`, `!!int`, ... and Ansible's `!unsafe` (its text, unresolved: `!unsafe 12` is a string).
    fn tagged_scalar(&self, text: &str, tag: &Tag, mark: Mark) -> Result<Yaml, YamlError> {
        let invalid = |what: &str| self.error(mark, format!("invalid {what} value: '{text}'"));
        if is_unsafe_tag(tag) {
            return Ok(Yaml::Unsafe(text.to_string()));
        }
        if is_vault_tag(tag) {
            return Err(self.vault_error(tag, mark));
        }
        if tag.handle != CORE_TAG {
            return Err(self.error(
                mark,
                format!("could not determine a constructor for the tag '{tag}'"),
            ));
        }
        let cleaned = text.trim();
        match tag.suffix.as_str() {
            "str" => Ok(Yaml::Str(text.to_string())),
            "null" => Ok(Yaml::Null),
            "bool" => parse_bool(cleaned)
                .map(Yaml::Bool)
                .ok_or_else(|| invalid("bool")),
            "int" => parse_int(cleaned).ok_or_else(|| invalid("int")),
            "float" => parse_float(cleaned)
                .map(Yaml::Float)
                .ok_or_else(|| invalid("float")),
            "binary" | "timestamp" => Ok(Yaml::Str(text.to_string())),
            _ => Err(self.error(
                mark,
                format!("could not determine a constructor for the tag '{tag}'"),
            )),
        }
    }
}

fn is_unsafe_tag(tag: &Tag) -> bool {
    tag.handle == "!" && tag.suffix == "unsafe"
}

fn is_vault_tag(tag: &Tag) -> bool {
    tag.handle == "!" && (tag.suffix == "vault" || tag.suffix == "vault-encrypted")
}

/// `node`, with every string inside it (keys too) made unsafe when `tagged_unsafe`: Ansible wraps
/// a whole `!unsafe` list or mapping. Other scalars (numbers, booleans) stay as they are.
fn unsafe_if(tagged_unsafe: bool, mut node: Node) -> Node {
    if tagged_unsafe {
        mark_unsafe(&mut node);
    }
    node
}

fn mark_unsafe(node: &mut Node) {
    match &mut node.value {
        Yaml::Str(s) => node.value = Yaml::Unsafe(std::mem::take(s)),
        Yaml::Seq(items) => items.iter_mut().for_each(mark_unsafe),
        Yaml::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            mark_unsafe(k);
            mark_unsafe(v);
        }),
        _ => {}
    }
}

/// Number of nodes in a tree (what an alias copy costs).
fn node_count(node: &Node) -> usize {
    match &node.value {
        Yaml::Seq(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Yaml::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| node_count(k) + node_count(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// Python dict semantics: a repeated key keeps its first position and takes the last value.
fn dedup_last_wins(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for (key, value) in entries {
        match index.get(&key_identity(&key.value)) {
            Some(&i) => out[i].1 = value,
            None => {
                index.insert(key_identity(&key.value), out.len());
                out.push((key, value));
            }
        }
    }
    out
}

/// Key identity as Python's: `1`, `1.0` and `true` are the same key.
fn key_identity(key: &Yaml) -> String {
    let number = |f: f64| format!("n:{f}");
    match key {
        Yaml::Null => "null".to_string(),
        Yaml::Bool(b) => number(f64::from(u8::from(*b))),
        Yaml::Int(i) => number(*i as f64),
        Yaml::Float(f) => number(*f),
        // Python's unsafe text is a str: equal text, same key.
        Yaml::Str(s) | Yaml::Unsafe(s) => format!("s:{s}"),
        Yaml::Seq(_) | Yaml::Map(_) => format!("c:{key:?}"),
    }
}
