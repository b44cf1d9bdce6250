//! The http modules depend on each other in layers, without a cycle: the
//! dispatcher (`routes`) on the handlers, each handler on helpers only
//! (never on another handler or the dispatcher), helpers on helpers.
//!
//! Each module that http/mod.rs declares (with its submodules, as one) is
//! read as tokens, without its `#[cfg(test)]` items. A path that reaches
//! into http from it (`super::x`, `super::super::x` from a submodule,
//! `crate::http::x`, each branch of `use super::{a::X, b::{self, Y}}`) names
//! a sibling: a module, or an item mod.rs re-exports from one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::source_tokens::{Token, read, tokens, without_test_items};

const HTTP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");

/// The top layer: routes a request to its handler.
const DISPATCHER: &str = "routes";
/// The middle layer: one per set of routes. Every other module is a helper.
const HANDLERS: [&str; 3] = ["send_api", "verify_api", "verify_v2"];

/// Each module, and the siblings it refers to.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// A file of http, as tokens, with its module path below http.
struct File {
    module: Vec<String>,
    tokens: Vec<Token>,
}

/// What mod.rs declares: its modules (not the test-only ones), and which
/// module each item it re-exports comes from.
struct Declared {
    modules: BTreeSet<String>,
    reexports: BTreeMap<String, String>,
}

fn ident(token: Option<&Token>) -> Option<&str> {
    match token {
        Some(Token::Ident(name)) => Some(name),
        _ => None,
    }
}

/// Whether the path at `tokens[at]` starts there: not inside another path
/// (`super::super`), a macro's (`$crate`) or a visibility (`pub(in crate::x)`).
fn starts_a_path(tokens: &[Token], at: usize) -> bool {
    match at.checked_sub(1).map(|before| &tokens[before]) {
        Some(Token::Punct(':' | '$')) => false,
        before => ident(before) != Some("in"),
    }
}

fn is_path_separator(tokens: &[Token], at: usize) -> bool {
    tokens.get(at) == Some(&Token::Punct(':')) && tokens.get(at + 1) == Some(&Token::Punct(':'))
}

/// The paths a path or `use` tree starting at `tokens[*at]` spells out, as
/// segments, `self` dropped: `super::{a::X, b::{self, Y}}` is `super::a::X`,
/// `super::b` and `super::b::Y`. An alias (`as Z`) is skipped.
fn paths(tokens: &[Token], at: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    match tokens.get(*at) {
        Some(Token::Punct('{')) => {
            *at += 1;
            while *at < tokens.len() && tokens[*at] != Token::Punct('}') {
                paths(tokens, at, prefix.clone(), out);
                if tokens.get(*at) == Some(&Token::Punct(',')) {
                    *at += 1;
                }
            }
            *at += 1;
        }
        Some(Token::Ident(name)) => {
            let mut path = prefix;
            if name != "self" {
                path.push(name.clone());
            }
            *at += 1;
            if is_path_separator(tokens, *at) {
                *at += 2;
                paths(tokens, at, path, out);
            } else {
                if ident(tokens.get(*at)) == Some("as") {
                    *at += 2;
                }
                out.push(path);
            }
        }
        Some(Token::Punct('*')) => {
            *at += 1;
            out.push([prefix, vec!["*".to_owned()]].concat());
        }
        _ => out.push(prefix),
    }
}

/// The modules `tokens` declares (`mod x;`).
fn declared_modules(tokens: &[Token]) -> Vec<String> {
    tokens
        .windows(3)
        .filter_map(|window| match window {
            [Token::Ident(keyword), Token::Ident(name), Token::Punct(';')] if keyword == "mod" => {
                Some(name.clone())
            }
            _ => None,
        })
        .collect()
}

fn declared(mod_rs: &[Token]) -> Declared {
    let mut reexports = BTreeMap::new();
    for (i, token) in mod_rs.iter().enumerate() {
        if ident(Some(token)) == Some("use") {
            let mut uses = Vec::new();
            paths(mod_rs, &mut (i + 1), Vec::new(), &mut uses);
            for path in uses {
                if let (Some(module), Some(item)) = (path.first(), path.last()) {
                    reexports.insert(item.clone(), module.clone());
                }
            }
        }
    }
    Declared {
        modules: declared_modules(mod_rs).into_iter().collect(),
        reexports,
    }
}

/// Module `module`'s file under `dir` (`name.rs` or `name/mod.rs`), then
/// its submodules' files, from `name/`.
fn files_of(dir: &Path, module: Vec<String>, files: &mut Vec<File>) {
    let name = module.last().expect("a module path");
    let flat = dir.join(format!("{name}.rs"));
    let source = match flat.exists() {
        true => read(&flat),
        false => read(&dir.join(name).join("mod.rs")),
    };
    let tokens = without_test_items(tokens(&source));
    for submodule in declared_modules(&tokens) {
        let path = [module.clone(), vec![submodule]].concat();
        files_of(&dir.join(name), path, files);
    }
    files.push(File { module, tokens });
}

/// The sibling a path from the crate root names, for a file of `node`:
/// `Ok(None)` when the path stays outside http or inside `node`.
fn sibling(absolute: &[String], node: &str, declared: &Declared) -> Result<Option<String>, String> {
    let [http, name, ..] = absolute else {
        return match absolute {
            [http] if http == "http" => Err("http as a whole".to_owned()),
            _ => Ok(None),
        };
    };
    if http != "http" {
        return Ok(None);
    }
    let module = match declared.modules.contains(name) {
        true => name,
        false => declared
            .reexports
            .get(name)
            .ok_or_else(|| format!("http::{name}, which mod.rs neither declares nor re-exports"))?,
    };
    Ok((module != node).then(|| module.clone()))
}

/// The module graph of the http module in `dir`; `Err` lists the paths
/// into http that name no sibling, whose edges the graph would miss.
fn module_graph(dir: &Path) -> Result<Graph, Vec<String>> {
    let mod_rs = without_test_items(tokens(&read(&dir.join("mod.rs"))));
    let declared = declared(&mod_rs);
    let mut graph = Graph::new();
    let mut unresolved = Vec::new();
    for module in &declared.modules {
        let mut files = Vec::new();
        files_of(dir, vec![module.clone()], &mut files);
        let edges = graph.entry(module.clone()).or_default();
        for file in files {
            for absolute in paths_into_crate(&file) {
                match sibling(&absolute, module, &declared) {
                    Ok(target) => edges.extend(target),
                    Err(problem) => {
                        unresolved.push(format!("{}: {problem}", file.module.join("::")));
                    }
                }
            }
        }
    }
    match unresolved.is_empty() {
        true => Ok(graph),
        false => Err(unresolved),
    }
}

/// Every `super::` and `crate::` path of `file`, from the crate root.
/// `super` counts from the inline module it is in.
fn paths_into_crate(file: &File) -> Vec<Vec<String>> {
    let tokens = &file.tokens;
    let here = [vec!["http".to_owned()], file.module.clone()].concat();
    let mut found = Vec::new();
    // The brace depth inside each inline module (`mod name { .. }`) we are in.
    let mut inline: Vec<usize> = Vec::new();
    let mut depth = 0;
    for i in 0..tokens.len() {
        match &tokens[i] {
            Token::Punct('{') => {
                depth += 1;
                if i >= 2 && ident(tokens.get(i - 2)) == Some("mod") {
                    inline.push(depth);
                }
            }
            Token::Punct('}') => {
                if inline.last() == Some(&depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            Token::Ident(start)
                if (start == "super" || start == "crate")
                    && is_path_separator(tokens, i + 1)
                    && starts_a_path(tokens, i) =>
            {
                let mut spelled = Vec::new();
                paths(tokens, &mut i.clone(), Vec::new(), &mut spelled);
                for path in spelled {
                    let ups = path.iter().take_while(|s| *s == "super").count();
                    let absolute = match start.as_str() {
                        "crate" => path[1..].to_vec(),
                        _ => {
                            // Inline modules sit below the file's module.
                            let depth_here = here.len() + inline.len();
                            let kept = depth_here.saturating_sub(ups).min(here.len());
                            [here[..kept].to_vec(), path[ups..].to_vec()].concat()
                        }
                    };
                    found.push(absolute);
                }
            }
            _ => {}
        }
    }
    found
}

/// A cycle of `graph` (its modules in order, the first repeated at the
/// end), if it has one.
fn first_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|on_path| on_path == node) {
            return Some([&path[start..], &[node.to_owned()]].concat());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

/// Cycles of `graph` until none is left, each found with the closing edge
/// of the one before taken out: every circle shows in at least one.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut rest = graph.clone();
    let mut found = Vec::new();
    while let Some(cycle) = first_cycle(&rest) {
        if let [.., from, to] = cycle.as_slice()
            && let Some(edges) = rest.get_mut(from)
        {
            edges.remove(to);
        }
        found.push(cycle);
    }
    found
}

fn layer(module: &str) -> usize {
    match module {
        DISPATCHER => 2,
        _ if HANDLERS.contains(&module) => 1,
        _ => 0,
    }
}

/// Whether `from` may use `to`: a module of a lower layer, or a helper
/// another helper (the cycle test keeps those in order).
fn may_use(from: &str, to: &str) -> bool {
    layer(to) < layer(from) || (layer(from) == 0 && layer(to) == 0)
}

/// The edges that go up a layer, or sideways between handlers.
fn against_layers(graph: &Graph) -> Vec<String> {
    graph
        .iter()
        .flat_map(|(from, to)| to.iter().map(move |to| (from, to)))
        .filter(|(from, to)| !may_use(from, to))
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect()
}

fn http_graph() -> Graph {
    module_graph(Path::new(HTTP)).unwrap_or_else(|unresolved| {
        panic!("paths into http that name no sibling: {unresolved:#?}")
    })
}

#[test]
fn http_modules_import_each_other_without_a_cycle() {
    let named: Vec<String> = cycles(&http_graph())
        .iter()
        .map(|cycle| cycle.join(" -> "))
        .collect();
    assert!(
        named.is_empty(),
        "http modules import each other in a circle: {named:#?}"
    );
}

#[test]
fn handlers_depend_only_on_helpers_and_the_dispatcher_on_handlers() {
    let graph = http_graph();
    // The scan must see what is certainly there, or it has gone blind.
    assert!(graph[DISPATCHER].contains("send_api"), "{graph:#?}");
    assert!(graph["verify_v2"].contains("answer"), "{graph:#?}");
    let wrong = against_layers(&graph);
    assert!(
        wrong.is_empty(),
        "http modules against the layers: {wrong:?}"
    );
}

/// The paths into the crate of `source`, read as module `module` of http.
fn scanned(module: &[&str], source: &str) -> Vec<String> {
    let file = File {
        module: module.iter().map(|name| name.to_string()).collect(),
        tokens: tokens(source),
    };
    paths_into_crate(&file)
        .iter()
        .map(|path| path.join("::"))
        .collect()
}

#[test]
fn the_scan_reads_nested_use_trees_submodules_and_inline_modules() {
    let source = "
        use super::{answer::respond, verify_v2::{self, CHECK_ROUTE}};
        use crate::http::Reason;
        use crate::metrics;
        pub(super) fn f() { super::gateway::deadline(); }
        pub(in crate::http) fn g() {}
        mod inner { use super::Local; use super::super::params::Params; }
    ";
    assert_eq!(
        scanned(&["send_api"], source),
        [
            "http::answer::respond",
            "http::verify_v2",
            "http::verify_v2::CHECK_ROUTE",
            "http::Reason",
            "metrics",
            "http::gateway::deadline",
            "http::send_api::Local",
            "http::params::Params",
        ]
    );
    let submodule = "use super::is_service_sid; use super::super::answer::ApiError;";
    assert_eq!(
        scanned(&["verify_v2", "auth"], submodule),
        ["http::verify_v2::is_service_sid", "http::answer::ApiError"]
    );
}

#[test]
fn each_cycle_is_named_in_order() {
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "c")]
        .into_iter()
        .fold(Graph::new(), |mut graph, (from, to)| {
            graph.entry(from.into()).or_default().insert(to.into());
            graph
        });
    assert_eq!(
        cycles(&graph),
        [vec!["a", "b", "c", "a"], vec!["c", "d", "c"]]
    );
}
