//! What a compiled CEL expression reads: the context keys (`ctx.key`, `ctx['key']`), any
//! variable other than `ctx`, `last` and `env` (a mistake: `alice_token` for
//! `ctx.alice_token`), and whether it surely yields no boolean (`1 + 1`).

use cel::common::ast::{EntryExpr, Expr as Ast, IdedExpr, LiteralValue};

/// The variables expressions may read.
pub(crate) const VARIABLES: [&str; 3] = ["ctx", "last", "env"];

/// The reads of one expression; offsets are in characters of its source (as CEL counts them).
#[derive(Debug, Default)]
pub(crate) struct Reads {
    /// Each context key read, with the node id of the read.
    pub ctx_keys: Vec<(String, u64)>,
    /// Each variable read that is neither one of [`VARIABLES`] nor bound by a macro.
    pub unknown_variables: Vec<(String, u64)>,
}

/// The reads of `root`.
pub(crate) fn reads(root: &IdedExpr) -> Reads {
    let mut reads = Reads::default();
    walk(root, &mut Vec::new(), &mut reads);
    reads
}

/// Whether `root` surely evaluates to something other than a boolean: a literal of another
/// type, a list or map, or arithmetic.
pub(crate) fn surely_not_boolean(root: &IdedExpr) -> bool {
    match &root.expr {
        Ast::Literal(literal) => !matches!(literal, LiteralValue::Boolean(_)),
        Ast::List(_) | Ast::Map(_) | Ast::Struct(_) => true,
        Ast::Call(call) => matches!(
            call.func_name.as_str(),
            "_+_" | "_-_" | "_*_" | "_/_" | "_%_" | "-_" | "size" | "string" | "int" | "double"
        ),
        _ => false,
    }
}

fn walk<'e>(node: &'e IdedExpr, bound: &mut Vec<&'e str>, reads: &mut Reads) {
    let is_ctx = |e: &IdedExpr, bound: &[&str]| matches!(&e.expr, Ast::Ident(name) if name == "ctx" && !bound.contains(&"ctx"));
    match &node.expr {
        Ast::Unspecified | Ast::Literal(_) => {}
        Ast::Ident(name) => {
            let known = VARIABLES.contains(&name.as_str()) || bound.contains(&name.as_str());
            if !known && !name.starts_with('@') {
                reads.unknown_variables.push((name.clone(), node.id));
            }
        }
        Ast::Select(select) if is_ctx(&select.operand, bound) => {
            reads.ctx_keys.push((select.field.clone(), node.id));
        }
        Ast::Select(select) => walk(&select.operand, bound, reads),
        Ast::Call(call) => {
            if let (
                "_[_]",
                [map, IdedExpr {
                    expr: Ast::Literal(LiteralValue::String(key)),
                    ..
                }],
            ) = (call.func_name.as_str(), call.args.as_slice())
            {
                if is_ctx(map, bound) {
                    reads.ctx_keys.push((key.inner().to_string(), node.id));
                    return;
                }
            }
            if let Some(target) = &call.target {
                walk(target, bound, reads);
            }
            for arg in &call.args {
                walk(arg, bound, reads);
            }
        }
        Ast::Comprehension(comprehension) => {
            walk(&comprehension.iter_range, bound, reads);
            let before = bound.len();
            bound.push(&comprehension.iter_var);
            if let Some(second) = &comprehension.iter_var2 {
                bound.push(second);
            }
            bound.push(&comprehension.accu_var);
            for part in [
                &comprehension.accu_init,
                &comprehension.loop_cond,
                &comprehension.loop_step,
                &comprehension.result,
            ] {
                walk(part, bound, reads);
            }
            bound.truncate(before);
        }
        Ast::List(list) => list.elements.iter().for_each(|e| walk(e, bound, reads)),
        Ast::Map(map) => map.entries.iter().for_each(|entry| match &entry.expr {
            EntryExpr::MapEntry(e) => {
                walk(&e.key, bound, reads);
                walk(&e.value, bound, reads);
            }
            EntryExpr::StructField(f) => walk(&f.value, bound, reads),
        }),
        Ast::Struct(s) => s.entries.iter().for_each(|entry| match &entry.expr {
            EntryExpr::MapEntry(e) => {
                walk(&e.key, bound, reads);
                walk(&e.value, bound, reads);
            }
            EntryExpr::StructField(f) => walk(&f.value, bound, reads),
        }),
    }
}
