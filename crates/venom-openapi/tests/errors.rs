//! A broken document is refused with where (file:line:column, JSON pointer) and what.

fn error(text: &str) -> String {
    venom_openapi::parse(text, "api.yaml")
        .unwrap_err()
        .to_string()
}

#[test]
fn syntax_errors_say_line_and_column() {
    assert_eq!(
        error("openapi: 3.0.0\npaths: [1,\nx: }\n"),
        "api.yaml:2:8: invalid YAML: mismatched bracket '[' closed by '}'"
    );
    let json = venom_openapi::parse("{\"openapi\": \"3.0.0\",\n \"paths\": {,}}", "api.json")
        .unwrap_err()
        .to_string();
    assert!(json.starts_with("api.json:2:12: invalid JSON: "), "{json}");
}

#[test]
fn structural_errors_say_the_line_of_their_pointer() {
    let text = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '20x':\n          description: no\n";
    assert_eq!(
        error(text),
        "api.yaml:7:9: /paths/~1a/get/responses/20x: response key `20x`, expected a status (200), a range (2XX) or `default`"
    );
    let dangling = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      parameters:\n        - $ref: '#/components/parameters/Nope'\n";
    assert!(error(dangling).contains("`$ref: #/components/parameters/Nope` points to nothing"));
    assert_eq!(
        error("swagger: '2.0'\n"),
        "api.yaml:1:1: /swagger: Swagger 2.0 documents are not read; convert it to OpenAPI 3 first"
    );
    assert_eq!(
        error("- 1\n"),
        "api.yaml: expected a mapping at the top of the document"
    );
}

#[test]
fn an_alias_bomb_is_refused_not_expanded() {
    let mut bomb = String::from("openapi: 3.0.0\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    let message = error(&bomb);
    assert!(message.starts_with("api.yaml:"), "{message}");
}

#[test]
fn ref_cycles_in_parameters_are_refused() {
    let text = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      parameters:\n        - $ref: '#/components/parameters/A'\ncomponents:\n  parameters:\n    A: {$ref: '#/components/parameters/B'}\n    B: {$ref: '#/components/parameters/A'}\n";
    assert!(error(text).contains("a cycle"), "{}", error(text));
}
