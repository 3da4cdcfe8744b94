//! The layering check: builds the graph of the crate's top-level modules
//! from the `crate::…` and `super::…` paths of src/ (outside `#[cfg(test)]`
//! code) and checks it against [`LAYERS`](crate::LAYERS): every module is in
//! a layer, every edge goes to the module's own layer or one below, and no
//! edges form a cycle. A failure names each offending edge and the file and
//! line of every reference that makes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The name the graph gives the crate root's own items (`Rrun`, `Error`, …).
const ROOT: &str = "crate";

/// One source file of a top-level module.
struct Source {
    /// The top-level module the file belongs to.
    module: String,
    /// How the file is named in messages (`src/image/mod.rs`).
    path: String,
    /// How many `super::` reach the crate root from inside this file.
    depth: usize,
    text: String,
}

/// Edges between top-level modules, each with the places (`file:line`) that make it.
type Graph = BTreeMap<(String, String), Vec<String>>;

/// The text with comments removed and string and character literals
/// emptied; line breaks are kept, so lines still count as in the file.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    // keeps the line breaks of b[from..to]
    let newlines = |out: &mut Vec<u8>, from: usize, to: usize| {
        out.extend(std::iter::repeat_n(b'\n', b[from..to.min(b.len())].iter().filter(|&&c| c == b'\n').count()))
    };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'/' && next == Some(b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            let (start, mut depth) = (i, 0);
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            newlines(&mut out, start, i);
        } else if c == b'r'
            && matches!(next, Some(b'"' | b'#'))
            && (i == 0 || !ident(b[i - 1]) || (b[i - 1] == b'b' && (i < 2 || !ident(b[i - 2]))))
        {
            // a raw string r"…" or r#"…"#
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let start = i;
            let mut close = b"\"".to_vec();
            close.extend(std::iter::repeat_n(b'#', hashes));
            i += 2 + hashes;
            while i < b.len() && !b[i..].starts_with(&close) {
                i += 1;
            }
            i += close.len();
            out.extend_from_slice(b"\"\"");
            newlines(&mut out, start, i);
        } else if c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.extend_from_slice(b"\"\"");
            newlines(&mut out, start, i);
        } else if c == b'\'' {
            // a character literal ('x', '\n', '\u{1F600}'), or a lifetime (kept)
            let len = text[i + 1..].chars().next().map_or(0, char::len_utf8);
            if next == Some(b'\\') {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
                out.extend_from_slice(b"' '");
            } else if b.get(i + 1 + len) == Some(&b'\'') {
                i += 2 + len;
                out.extend_from_slice(b"' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).expect("only whole literals and comments were removed")
}

/// The stripped text without the items marked `#[cfg(test)]` (each replaced
/// by its line breaks).
fn without_tests(text: &str) -> String {
    const ATTR: &str = "#[cfg(test)]";
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(at) = text[i..].find(ATTR).map(|p| p + i) {
        out.push_str(&text[i..at]);
        let mut j = at + ATTR.len();
        // the item's end: its first `;` or its block's closing brace, outside brackets
        let mut depth = 0i32;
        while j < b.len() {
            match b[j] {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b';' if depth == 0 => {
                    j += 1;
                    break;
                }
                b'{' if depth == 0 => {
                    let mut braces = 0;
                    while j < b.len() {
                        match b[j] {
                            b'{' => braces += 1,
                            b'}' => braces -= 1,
                            _ => {}
                        }
                        j += 1;
                        if braces == 0 {
                            break;
                        }
                    }
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let j = j.min(b.len());
        out.extend(std::iter::repeat_n('\n', text[at..j].matches('\n').count()));
        i = j;
    }
    out.push_str(&text[i..]);
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Bang,
    Dollar,
    Other,
}

/// The tokens of stripped text, each with its line (from 1).
fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(text[start..i].to_string()), line));
        } else if b[i..].starts_with(b"::") {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((
                match c {
                    b'{' => Tok::Open,
                    b'}' => Tok::Close,
                    b',' => Tok::Comma,
                    b'!' => Tok::Bang,
                    b'$' => Tok::Dollar,
                    _ => Tok::Other,
                },
                line,
            ));
            i += 1;
        }
    }
    out
}

/// What a path names at the crate's top: a module, a macro exported by a
/// module, or an item of the crate root.
#[derive(Debug, Clone, PartialEq)]
struct Named {
    name: String,
    is_macro: bool,
    line: usize,
}

/// The crate-level names of every `crate::…` path (and `$crate::…`), and of
/// every `super::…` path that climbs `depth` levels to the crate root.
fn crate_paths(toks: &[(Tok, usize)], depth: usize) -> Vec<Named> {
    let ident = |k: usize| match toks.get(k) {
        Some((Tok::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let is = |k: usize, t: Tok| toks.get(k).is_some_and(|(x, _)| *x == t);
    // the names right after `crate::` (at k): one, or each item of a `{…}` group
    let names_at = |k: usize| -> Vec<Named> {
        if is(k, Tok::Open) {
            let (mut out, mut level, mut item_start) = (Vec::new(), 0, true);
            for (j, (t, line)) in toks.iter().enumerate().skip(k) {
                match t {
                    Tok::Open => {
                        level += 1;
                        item_start = level == 1;
                        continue;
                    }
                    Tok::Close => {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    Tok::Comma if level == 1 => {
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if item_start && level == 1 {
                    if let Some(name) = ident(j) {
                        out.push(Named { name: name.to_string(), is_macro: false, line: *line });
                    }
                }
                item_start = false;
            }
            out
        } else {
            ident(k)
                .map(|name| Named { name: name.to_string(), is_macro: is(k + 1, Tok::Bang), line: toks[k].1 })
                .into_iter()
                .collect()
        }
    };
    let mut out = Vec::new();
    // brace levels at which inline `mod name {` blocks opened: each is one more `super::` to the root
    let (mut level, mut inline) = (0usize, Vec::new());
    for (k, (tok, _)) in toks.iter().enumerate() {
        match tok {
            Tok::Open => {
                if k >= 2 && ident(k - 2) == Some("mod") && ident(k - 1).is_some() {
                    inline.push(level);
                }
                level += 1;
            }
            Tok::Close => {
                level = level.saturating_sub(1);
                if inline.last() == Some(&level) {
                    inline.pop();
                }
            }
            _ => {}
        }
        let depth = depth + inline.len();
        let after_sep = k > 0 && is(k - 1, Tok::PathSep);
        match ident(k) {
            Some("crate") if !after_sep && is(k + 1, Tok::PathSep) => out.extend(names_at(k + 2)),
            Some("super") if !after_sep => {
                let (mut j, mut n) = (k, 0);
                while ident(j) == Some("super") && is(j + 1, Tok::PathSep) {
                    n += 1;
                    j += 2;
                }
                if n > 0 && n >= depth {
                    out.extend(names_at(j));
                }
            }
            _ => {}
        }
    }
    out
}

/// The macros a text exports at the crate root (`#[macro_export] macro_rules! name`).
fn exported_macros(toks: &[(Tok, usize)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut exported = false;
    for w in toks.windows(3) {
        match (&w[0].0, &w[1].0, &w[2].0) {
            (Tok::Ident(a), _, _) if a == "macro_export" => exported = true,
            (Tok::Ident(a), Tok::Bang, Tok::Ident(name)) if a == "macro_rules" && std::mem::take(&mut exported) => {
                out.push(name.clone());
            }
            _ => {}
        }
    }
    out
}

/// The graph of `modules` from their sources. Self-references are left out.
fn graph(modules: &[String], sources: &[Source]) -> Graph {
    let parsed: Vec<(&Source, Vec<(Tok, usize)>)> =
        sources.iter().map(|s| (s, tokens(&without_tests(&strip(&s.text))))).collect();
    let mut macros = BTreeMap::new();
    for (s, toks) in &parsed {
        for m in exported_macros(toks) {
            macros.insert(m, s.module.clone());
        }
    }
    let mut g = Graph::new();
    for (s, toks) in &parsed {
        for n in crate_paths(toks, s.depth) {
            let target = if modules.contains(&n.name) {
                n.name
            } else if let Some(m) = macros.get(&n.name).filter(|_| n.is_macro) {
                m.clone()
            } else {
                ROOT.to_string()
            };
            if target != s.module {
                g.entry((s.module.clone(), target)).or_default().push(format!("{}:{}", s.path, n.line));
            }
        }
    }
    g
}

/// Everything wrong with `g` under `layers` (bottom layer first): modules in
/// no layer, layers naming missing modules, edges to a higher layer, cycles.
fn violations(modules: &[String], g: &Graph, layers: &[&[&str]]) -> Vec<String> {
    let layer_of = |m: &str| layers.iter().position(|l| l.contains(&m));
    let mut out = Vec::new();
    for m in modules {
        if layer_of(m).is_none() {
            out.push(format!("module {m} is in no layer: add it to LAYERS in src/lib.rs (and the diagram above it)"));
        }
    }
    for m in layers.iter().flat_map(|l| l.iter()) {
        if *m != ROOT && !modules.iter().any(|x| x == m) {
            out.push(format!("LAYERS names {m}, which the crate root does not declare"));
        }
    }
    for ((from, to), places) in g {
        if let (Some(a), Some(b)) = (layer_of(from), layer_of(to)) {
            if b > a {
                out.push(format!("{from} (layer {a}) names {to} (layer {b}, above it) at {}", places.join(", ")));
            }
        }
    }
    for scc in cycles(g) {
        let edges: Vec<String> = g
            .iter()
            .filter(|((a, b), _)| scc.contains(a) && scc.contains(b))
            .map(|((a, b), places)| format!("{a} -> {b} ({})", places[0]))
            .collect();
        out.push(format!("cycle among {}: {}", scc.iter().cloned().collect::<Vec<_>>().join(", "), edges.join("; ")));
    }
    out
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(g: &Graph) -> Vec<BTreeSet<String>> {
    struct Tarjan<'a> {
        next: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<BTreeSet<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.next.get(v).cloned().unwrap_or_default() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let l = self.low[v].min(self.low[w]);
                    self.low.insert(v, l);
                } else if self.stack.contains(&w) {
                    let l = self.low[v].min(self.index[w]);
                    self.low.insert(v, l);
                }
            }
            if self.low[v] == self.index[v] {
                let mut scc = BTreeSet::new();
                while let Some(w) = self.stack.pop() {
                    scc.insert(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if scc.len() > 1 {
                    self.out.push(scc);
                }
            }
        }
    }
    let mut t = Tarjan {
        next: BTreeMap::new(),
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for (a, b) in g.keys() {
        t.next.entry(a.as_str()).or_default().push(b.as_str());
    }
    let nodes: Vec<&str> = g.keys().flat_map(|(a, b)| [a.as_str(), b.as_str()]).collect();
    for v in nodes {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.out
}

/// The modules src/lib.rs declares outside test code, and their sources.
fn read_crate(src: &Path) -> (Vec<String>, Vec<Source>) {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let toks = tokens(&without_tests(&strip(&lib)));
    let modules: Vec<String> = toks
        .windows(3)
        .filter_map(|w| match (&w[0].0, &w[1].0, &w[2].0) {
            (Tok::Ident(m), Tok::Ident(name), Tok::Other) if m == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect();
    let mut sources = Vec::new();
    for m in &modules {
        let file = src.join(format!("{m}.rs"));
        if file.is_file() {
            let text = std::fs::read_to_string(&file).expect("a module's file");
            sources.push(Source { module: m.clone(), path: format!("src/{m}.rs"), depth: 1, text });
        }
        let mut dirs = vec![src.join(m)];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let rel = path.strip_prefix(src).expect("under src/");
                    let parts = rel.components().count();
                    let depth = if path.file_name().is_some_and(|n| n == "mod.rs") { parts - 1 } else { parts };
                    let text = std::fs::read_to_string(&path).expect("a module's file");
                    sources.push(Source { module: m.clone(), path: format!("src/{}", rel.display()), depth, text });
                }
            }
        }
    }
    (modules, sources)
}

/// The layers the crate docs' diagram shows, bottom first: the lines of the
/// `text` block under "Layers", top first, each a comma-separated list of
/// modules (words in parentheses are comments).
fn documented_layers(lib: &str) -> Vec<Vec<String>> {
    let docs: Vec<&str> = lib.lines().filter_map(|l| l.strip_prefix("//!")).map(str::trim).collect();
    let start =
        docs.iter().position(|l| l.starts_with("## Layers")).expect("a \"## Layers\" section in the crate docs");
    let block: Vec<&str> = docs[start..]
        .iter()
        .skip_while(|l| !l.starts_with("```text"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .copied()
        .collect();
    let mut layers: Vec<Vec<String>> = block
        .iter()
        .map(|l| {
            let mut s = String::new();
            let mut depth = 0;
            for c in l.chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    c if depth == 0 => s.push(c),
                    _ => {}
                }
            }
            s.split(',').map(|w| w.trim().to_string()).filter(|w| !w.is_empty()).collect()
        })
        .collect();
    layers.reverse();
    layers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(module: &str, path: &str, depth: usize, text: &str) -> Source {
        Source { module: module.into(), path: path.into(), depth, text: text.into() }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn paths_are_found_in_use_trees_super_chains_and_macros() {
        let modules = names(&["low", "high", "steps"]);
        let sources = [
            src("steps", "src/steps.rs", 1, "#[macro_export]\nmacro_rules! step { () => {} }\n"),
            src(
                "high",
                "src/high/deep.rs",
                2,
                "use crate::{low::{self, A}, Error};\nfn f() { super::super::low::g(); super::sibling(); crate::step!(); }\n\
                 mod inner { use super::super::super::low; use super::super::Sibling; }\n",
            ),
            src("low", "src/low.rs", 1, "pub fn g() { let _ = crate::low::h; }\n"),
        ];
        let g = graph(&modules, &sources);
        let edges: Vec<(&str, &str)> = g.keys().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(edges, [("high", "crate"), ("high", "low"), ("high", "steps")]);
        assert_eq!(
            g[&("high".into(), "low".into())],
            ["src/high/deep.rs:1", "src/high/deep.rs:2", "src/high/deep.rs:3"]
        );
        assert_eq!(g[&("high".into(), "steps".into())], ["src/high/deep.rs:2"]);
    }

    #[test]
    fn comments_strings_and_test_code_name_nothing() {
        let modules = names(&["low", "high"]);
        let text = "// crate::high::x\n/* crate::high */ fn f() -> &'static str { \"crate::high\" }\n\
                    const C: char = '\"'; const R: &str = r#\"crate::high\"#;\n\
                    #[cfg(test)]\nmod tests { use crate::high; }\nfn g() { crate::high::y(); }\n";
        let g = graph(&modules, &[src("low", "src/low.rs", 1, text)]);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[&("low".into(), "high".into())], ["src/low.rs:6"], "only the real call, on its own line");
    }

    #[test]
    fn an_upward_edge_is_reported_with_its_file_and_line() {
        let modules = names(&["low", "high"]);
        let g = graph(&modules, &[src("low", "src/low/mod.rs", 1, "\nuse crate::high::Thing;\n")]);
        let v = violations(&modules, &g, &[&["low"], &["high"], &["crate"]]);
        assert_eq!(v, ["low (layer 0) names high (layer 1, above it) at src/low/mod.rs:2"]);
        let ok = graph(&modules, &[src("high", "src/high.rs", 1, "use crate::low::Thing;\n")]);
        assert!(violations(&modules, &ok, &[&["low"], &["high"], &["crate"]]).is_empty());
    }

    #[test]
    fn a_cycle_within_a_layer_is_reported() {
        let modules = names(&["a", "b", "c"]);
        let g = graph(
            &modules,
            &[
                src("a", "src/a.rs", 1, "use crate::b;"),
                src("b", "src/b.rs", 1, "use crate::c;"),
                src("c", "src/c.rs", 1, "use crate::a;"),
            ],
        );
        let v = violations(&modules, &g, &[&["a", "b", "c"]]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].starts_with("cycle among a, b, c: a -> b (src/a.rs:1)"), "{}", v[0]);
    }

    #[test]
    fn a_module_in_no_layer_and_a_layer_without_its_module_are_reported() {
        let modules = names(&["a", "new"]);
        let v = violations(&modules, &Graph::new(), &[&["a", "gone"]]);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].contains("module new is in no layer"), "{}", v[0]);
        assert!(v[1].contains("LAYERS names gone"), "{}", v[1]);
    }

    #[test]
    fn the_diagram_is_read_top_first() {
        let lib = "//! x\n//! ## Layers\n//! ```text\n//! crate (Rrun), api\n//! low, lower\n//! ```\n";
        assert_eq!(documented_layers(lib), [names(&["low", "lower"]), names(&["crate", "api"])]);
    }

    fn layers() -> Vec<Vec<String>> {
        crate::LAYERS.iter().map(|l| l.iter().map(|s| s.to_string()).collect()).collect()
    }

    #[test]
    fn the_crate_docs_show_the_layers_the_check_uses() {
        let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
        assert_eq!(documented_layers(&lib), layers(), "the diagram in src/lib.rs's docs and LAYERS differ");
    }

    #[test]
    fn modules_name_only_their_own_layer_or_below_and_no_cycle() {
        let (modules, sources) = read_crate(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
        let g = graph(&modules, &sources);
        // a parser that found nothing would pass: the graph must show what the code plainly does
        assert!(modules.len() >= 20 && sources.len() >= 100, "{} modules, {} files", modules.len(), sources.len());
        for edge in [("image", "store"), ("launcher", "spec"), ("lifecycle", "crate"), ("cgroups", "steps")] {
            assert!(g.contains_key(&(edge.0.into(), edge.1.into())), "the graph lacks {edge:?}: {g:?}");
        }
        let v = violations(&modules, &g, crate::LAYERS);
        assert!(v.is_empty(), "the module graph breaks the layering of src/lib.rs:\n{}", v.join("\n"));
    }
}
