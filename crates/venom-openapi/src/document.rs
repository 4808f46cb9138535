//! Reading an OpenAPI document (3.0 or 3.1, JSON or YAML) into the operations venom works with.

use crate::error::{one_line, SpecError};
use crate::locate::locate;
use crate::routes::PathTemplate;
use serde_json::{Map, Value};

/// The largest document read (bytes): far above real documents, small enough for memory.
pub const MAX_SPEC_BYTES: usize = 16 << 20;

/// How many `$ref`s in a row are followed before the chain is called a cycle.
const MAX_REF_HOPS: usize = 64;

/// The HTTP methods an OpenAPI path item may hold, in the order operations are listed.
const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// The OpenAPI version a document declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// OpenAPI 3.0.x: schemas are an extended subset of JSON Schema draft 4 (`nullable`).
    V3_0,
    /// OpenAPI 3.1.x: schemas are JSON Schema 2020-12.
    V3_1,
}

/// A parsed OpenAPI document: its operations, servers and the raw document (for `$ref`s).
#[derive(Debug, Clone)]
pub struct Spec {
    /// Where it was read from (a file path or URL), for messages.
    pub origin: String,
    /// The declared version.
    pub version: Version,
    /// `info.title`.
    pub title: String,
    /// `servers[].url`, their variables replaced by their defaults.
    pub servers: Vec<String>,
    /// Every operation under `paths`, by path (sorted) and method.
    pub operations: Vec<Operation>,
    /// Security schemes under `components.securitySchemes`.
    pub security_schemes: Vec<SecurityScheme>,
    /// The whole document.
    pub(crate) document: Value,
    /// The document's text, to find the line of a JSON pointer in errors.
    pub(crate) text: String,
}

/// One operation: a method on a path.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Uppercase method (`GET`, `POST`…).
    pub method: String,
    /// The path as written (`/orders/{id}`).
    pub path: String,
    /// The path compiled for matching request URLs.
    pub template: PathTemplate,
    /// `operationId`, if any.
    pub operation_id: Option<String>,
    /// `summary` (or the first line of `description`), if any.
    pub summary: Option<String>,
    /// Path-level and operation-level parameters (`$ref`s resolved; the operation's win).
    pub parameters: Vec<Parameter>,
    /// The JSON request body, if one is documented.
    pub request_body: Option<RequestBody>,
    /// The documented responses.
    pub responses: Vec<Response>,
    /// The security schemes one of which it requires; empty when it needs no credentials.
    pub security: Vec<String>,
    /// JSON pointer of the operation in the document (`/paths/~1orders/post`).
    pub pointer: String,
}

impl Operation {
    /// The documented response for `status`: the exact code, else its range (`2XX`), else
    /// `default`.
    pub fn response(&self, status: u16) -> Option<&Response> {
        let exact = StatusKey::Code(status);
        let range = StatusKey::Range((status / 100) as u8);
        [exact, range, StatusKey::Default]
            .iter()
            .find_map(|key| self.responses.iter().find(|r| &r.status == key))
    }

    /// Whether it needs credentials.
    pub fn is_secured(&self) -> bool {
        !self.security.is_empty()
    }
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterLocation {
    /// A `{name}` segment of the path.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
}

/// A documented parameter.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// Its name.
    pub name: String,
    /// Where it goes.
    pub location: ParameterLocation,
    /// Whether it must be sent (path parameters always are).
    pub required: bool,
    /// Its schema (`{}` when none).
    pub schema: Value,
    /// Its `example` (or first of `examples`), if any.
    pub example: Option<Value>,
}

/// A documented JSON request body.
#[derive(Debug, Clone)]
pub struct RequestBody {
    /// Whether it must be sent.
    pub required: bool,
    /// The media type it is documented for (`application/json`).
    pub media_type: String,
    /// Its schema, if any.
    pub schema: Option<Value>,
    /// The media type's `example` (or first of `examples`), if any.
    pub example: Option<Value>,
}

/// The key of a documented response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusKey {
    /// One status (`200`).
    Code(u16),
    /// A range by its first digit (`2XX` is `Range(2)`).
    Range(u8),
    /// `default`: any status not documented otherwise.
    Default,
}

/// A documented response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Which statuses it documents.
    pub status: StatusKey,
    /// The schema of its JSON body, if it documents one.
    pub schema: Option<Value>,
    /// Its OpenAPI links: which operation can follow it, with what parameter values.
    pub links: Vec<Link>,
}

/// An OpenAPI link: the response's values that feed another operation's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The `operationId` of the operation it feeds.
    pub operation_id: String,
    /// Each parameter it fills and the runtime expression of its value
    /// (`$response.body#/id`).
    pub parameters: Vec<(String, String)>,
}

/// A security scheme a document declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityScheme {
    /// Its name under `components.securitySchemes`.
    pub name: String,
    /// `http` (with its `scheme`: `bearer`, `basic`), `apiKey`, `oauth2`, `openIdConnect`.
    pub kind: String,
    /// For `apiKey`: where the key goes and its name (`header`, `X-API-Key`).
    pub api_key: Option<(String, String)>,
}

/// Parses an OpenAPI document; `origin` names it in errors. JSON when its text starts with
/// `{`, else YAML.
pub fn parse(text: &str, origin: &str) -> Result<Spec, SpecError> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(whole(
            origin,
            format!("the document is larger than {MAX_SPEC_BYTES} bytes"),
        ));
    }
    let document = read_tree(text, origin)?;
    Reader {
        origin,
        text,
        document: &document,
    }
    .spec()
}

/// Reads `path` (at most [`MAX_SPEC_BYTES`]) and parses it.
pub fn load_file(path: &std::path::Path) -> Result<Spec, SpecError> {
    let origin = path.display().to_string();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            use std::io::Read as _;
            file.take(MAX_SPEC_BYTES as u64 + 1).read_to_end(&mut bytes)
        })
        .map_err(|e| whole(&origin, format!("cannot read the OpenAPI document: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let (line, column) = crate::locate::line_column(
            std::str::from_utf8(&e.as_bytes()[..valid]).unwrap_or_default(),
            valid,
        );
        SpecError {
            origin: origin.clone(),
            line,
            column,
            pointer: String::new(),
            message: "the document is not valid UTF-8 here".into(),
        }
    })?;
    parse(&text, &origin)
}

fn whole(origin: &str, message: String) -> SpecError {
    SpecError {
        origin: origin.to_string(),
        line: 0,
        column: 0,
        pointer: String::new(),
        message,
    }
}

/// The document's tree, from JSON or YAML text.
fn read_tree(text: &str, origin: &str) -> Result<Value, SpecError> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| SpecError {
            origin: origin.to_string(),
            line: e.line(),
            column: e.column(),
            pointer: String::new(),
            message: format!(
                "invalid JSON: {}",
                one_line(&strip_position(&e.to_string()))
            ),
        });
    }
    // serde-saphyr's default budget bounds aliases, depth and events (no "billion laughs").
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
        SpecError {
            origin: origin.to_string(),
            line,
            column,
            pointer: String::new(),
            message: format!("invalid YAML: {}", one_line(yaml_reason(&e.to_string()))),
        }
    })
}

/// serde_json's message without its trailing ` at line L column C` (the position is shown
/// once, in front).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// The reason in serde-saphyr's message: its first line, without the `error: line L column
/// C: ` in front (the position is shown once, in front) and without the quoted snippet.
fn yaml_reason(text: &str) -> &str {
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((position, reason)) if position.contains(" column ") => reason,
        _ => first,
    }
}

/// Reads the operations out of a parsed document.
struct Reader<'d> {
    origin: &'d str,
    text: &'d str,
    document: &'d Value,
}

impl<'d> Reader<'d> {
    /// An error at `pointer`, positioned at the line that pointer names in the text.
    fn error(&self, pointer: &str, message: impl Into<String>) -> SpecError {
        let (line, column) = locate(self.text, pointer).unwrap_or((0, 0));
        SpecError {
            origin: self.origin.to_string(),
            line,
            column,
            pointer: pointer.to_string(),
            message: one_line(&message.into()),
        }
    }

    fn spec(&self) -> Result<Spec, SpecError> {
        let root = self
            .document
            .as_object()
            .ok_or_else(|| self.error("", "expected a mapping at the top of the document"))?;
        let version = self.version(root)?;
        let title = root
            .get("info")
            .and_then(|i| i.get("title"))
            .and_then(Value::as_str)
            .unwrap_or("API")
            .to_string();
        let operations = self.operations(root, version)?;
        Ok(Spec {
            origin: self.origin.to_string(),
            version,
            title,
            servers: servers(root),
            operations,
            security_schemes: self.security_schemes(),
            document: self.document.clone(),
            text: self.text.to_string(),
        })
    }

    fn version(&self, root: &Map<String, Value>) -> Result<Version, SpecError> {
        if root.contains_key("swagger") {
            return Err(self.error(
                "/swagger",
                "Swagger 2.0 documents are not read; convert it to OpenAPI 3 first",
            ));
        }
        let Some(declared) = root.get("openapi") else {
            return Err(self.error(
                "",
                "no `openapi` version field: is this an OpenAPI document?",
            ));
        };
        match declared.as_str() {
            Some(v) if v.starts_with("3.0") => Ok(Version::V3_0),
            Some(v) if v.starts_with("3.1") => Ok(Version::V3_1),
            _ => Err(self.error(
                "/openapi",
                format!("unsupported OpenAPI version {declared}, expected 3.0.x or 3.1.x"),
            )),
        }
    }

    fn operations(
        &self,
        root: &Map<String, Value>,
        version: Version,
    ) -> Result<Vec<Operation>, SpecError> {
        let Some(paths) = root.get("paths") else {
            if version == Version::V3_0 {
                return Err(self.error("", "no `paths`: OpenAPI 3.0 requires them"));
            }
            return Ok(Vec::new());
        };
        let paths = paths
            .as_object()
            .ok_or_else(|| self.error("/paths", "expected a mapping of paths"))?;
        let default_security = root.get("security");
        let mut operations = Vec::new();
        for (path, item) in paths {
            if path.starts_with("x-") {
                continue;
            }
            let item_pointer = format!("/paths/{}", escape(path));
            if !path.starts_with('/') {
                return Err(self.error(&item_pointer, format!("path `{path}` must start with `/`")));
            }
            let template = PathTemplate::parse(path)
                .map_err(|why| self.error(&item_pointer, format!("path `{path}`: {why}")))?;
            let (item, item_pointer) = self.resolve(item, &item_pointer)?;
            let item = item
                .as_object()
                .ok_or_else(|| self.error(&item_pointer, "expected a path item mapping"))?;
            let shared = self.parameters(item.get("parameters"), &item_pointer)?;
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let pointer = format!("{item_pointer}/{method}");
                operations.push(self.operation(
                    operation,
                    &pointer,
                    (method, path, &template),
                    &shared,
                    default_security,
                )?);
            }
        }
        Ok(operations)
    }

    fn operation(
        &self,
        operation: &Value,
        pointer: &str,
        (method, path, template): (&str, &str, &PathTemplate),
        shared: &[Parameter],
        default_security: Option<&Value>,
    ) -> Result<Operation, SpecError> {
        let object = operation
            .as_object()
            .ok_or_else(|| self.error(pointer, "expected an operation mapping"))?;
        let mut parameters = shared.to_vec();
        for own in self.parameters(object.get("parameters"), pointer)? {
            parameters.retain(|p| !(p.name == own.name && p.location == own.location));
            parameters.push(own);
        }
        for name in template.parameter_names() {
            if !parameters
                .iter()
                .any(|p| p.location == ParameterLocation::Path && p.name == name)
            {
                // Undocumented path parameters still have to be sent: an unconstrained one.
                parameters.push(Parameter {
                    name: name.to_string(),
                    location: ParameterLocation::Path,
                    required: true,
                    schema: Value::Object(Map::new()),
                    example: None,
                });
            }
        }
        let summary = ["summary", "description"]
            .iter()
            .find_map(|k| object.get(*k).and_then(Value::as_str))
            .and_then(|s| s.lines().find(|l| !l.trim().is_empty()))
            .map(|s| one_line(s.trim()));
        Ok(Operation {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            template: template.clone(),
            operation_id: object
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_string),
            summary,
            parameters,
            request_body: self.request_body(object.get("requestBody"), pointer)?,
            responses: self.responses(object.get("responses"), pointer)?,
            security: security(object.get("security").or(default_security)),
            pointer: pointer.to_string(),
        })
    }

    fn parameters(&self, list: Option<&Value>, owner: &str) -> Result<Vec<Parameter>, SpecError> {
        let Some(list) = list else {
            return Ok(Vec::new());
        };
        let pointer = format!("{owner}/parameters");
        let list = list
            .as_array()
            .ok_or_else(|| self.error(&pointer, "expected a list of parameters"))?;
        let mut parameters = Vec::new();
        for (index, parameter) in list.iter().enumerate() {
            let (parameter, at) = self.resolve(parameter, &format!("{pointer}/{index}"))?;
            let name = parameter
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| self.error(&at, "a parameter needs a `name`"))?;
            let location = match parameter.get("in").and_then(Value::as_str) {
                Some("path") => ParameterLocation::Path,
                Some("query") => ParameterLocation::Query,
                Some("header") => ParameterLocation::Header,
                Some("cookie") => ParameterLocation::Cookie,
                other => {
                    return Err(self.error(
                        &at,
                        format!(
                        "parameter `{name}`: `in` is {}, expected path, query, header or cookie",
                        other.unwrap_or("missing")
                    ),
                    ))
                }
            };
            let schema = parameter
                .get("schema")
                .cloned()
                .or_else(|| first_media_schema(parameter.get("content")))
                .unwrap_or_else(|| Value::Object(Map::new()));
            parameters.push(Parameter {
                name: name.to_string(),
                location,
                required: location == ParameterLocation::Path
                    || parameter.get("required").and_then(Value::as_bool) == Some(true),
                schema,
                example: example_of(parameter),
            });
        }
        Ok(parameters)
    }

    fn request_body(
        &self,
        body: Option<&Value>,
        owner: &str,
    ) -> Result<Option<RequestBody>, SpecError> {
        let Some(body) = body else {
            return Ok(None);
        };
        let (body, at) = self.resolve(body, &format!("{owner}/requestBody"))?;
        let Some(content) = body.get("content").and_then(Value::as_object) else {
            return Err(self.error(&at, "a request body needs `content`"));
        };
        let Some((media_type, media)) = content.iter().find(|(m, _)| is_json(m)) else {
            // Only JSON bodies are sent; the operation is still called, without one.
            return Ok(None);
        };
        Ok(Some(RequestBody {
            required: body.get("required").and_then(Value::as_bool) == Some(true),
            media_type: media_type.clone(),
            schema: media.get("schema").cloned(),
            example: example_of(media),
        }))
    }

    fn responses(
        &self,
        responses: Option<&Value>,
        owner: &str,
    ) -> Result<Vec<Response>, SpecError> {
        let pointer = format!("{owner}/responses");
        let Some(responses) = responses else {
            return Ok(Vec::new());
        };
        let responses = responses
            .as_object()
            .ok_or_else(|| self.error(&pointer, "expected a mapping of statuses to responses"))?;
        let mut all = Vec::new();
        for (key, response) in responses {
            if key.starts_with("x-") {
                continue;
            }
            let at = format!("{pointer}/{}", escape(key));
            let status = status_key(key).ok_or_else(|| {
                self.error(
                    &at,
                    format!(
                        "response key `{key}`, expected a status (200), a range (2XX) or `default`"
                    ),
                )
            })?;
            let (response, at) = self.resolve(response, &at)?;
            let content = response.get("content").and_then(Value::as_object);
            let schema = content.and_then(|c| {
                c.iter()
                    .find(|(m, _)| is_json(m))
                    .map(|(_, media)| media.get("schema").cloned().unwrap_or(Value::Bool(true)))
            });
            all.push(Response {
                status,
                schema,
                links: self.links(response.get("links"), &at)?,
            });
        }
        all.sort_by_key(|r| r.status);
        Ok(all)
    }

    fn links(&self, links: Option<&Value>, owner: &str) -> Result<Vec<Link>, SpecError> {
        let Some(links) = links.and_then(Value::as_object) else {
            return Ok(Vec::new());
        };
        let mut all = Vec::new();
        for (name, link) in links {
            let (link, _) = self.resolve(link, &format!("{owner}/links/{}", escape(name)))?;
            let Some(operation_id) = link.get("operationId").and_then(Value::as_str) else {
                continue; // an operationRef to another document: not followed
            };
            let parameters = link
                .get("parameters")
                .and_then(Value::as_object)
                .map(|p| {
                    p.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            all.push(Link {
                operation_id: operation_id.to_string(),
                parameters,
            });
        }
        Ok(all)
    }

    fn security_schemes(&self) -> Vec<SecurityScheme> {
        let Some(schemes) = self
            .document
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object)
        else {
            return Vec::new();
        };
        schemes
            .iter()
            .map(|(name, scheme)| {
                let text = |k: &str| scheme.get(k).and_then(Value::as_str).unwrap_or_default();
                let kind = match text("type") {
                    "http" => format!("http {}", text("scheme").to_ascii_lowercase()),
                    other => other.to_string(),
                };
                let api_key = (text("type") == "apiKey")
                    .then(|| (text("in").to_string(), text("name").to_string()));
                SecurityScheme {
                    name: name.clone(),
                    kind,
                    api_key,
                }
            })
            .collect()
    }

    /// Follows `value`'s local `$ref`s; the value they lead to and its pointer.
    fn resolve(&self, value: &'d Value, pointer: &str) -> Result<(&'d Value, String), SpecError> {
        resolve_refs(self.document, value, pointer).map_err(|(at, why)| self.error(&at, why))
    }
}

/// Follows `value`'s chain of local `$ref`s in `document`: the value it ends on and its
/// pointer, or the pointer where the chain breaks and why.
pub(crate) fn resolve_refs<'d>(
    document: &'d Value,
    mut value: &'d Value,
    pointer: &str,
) -> Result<(&'d Value, String), (String, String)> {
    let mut at = pointer.to_string();
    for _ in 0..MAX_REF_HOPS {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return Ok((value, at));
        };
        let Some(target) = reference.strip_prefix('#') else {
            return Err((
                at,
                format!("`$ref: {reference}` points outside this document, which is not read"),
            ));
        };
        value = document
            .pointer(target)
            .ok_or_else(|| (at.clone(), format!("`$ref: {reference}` points to nothing")))?;
        at = target.to_string();
    }
    Err((
        at,
        format!("more than {MAX_REF_HOPS} `$ref`s in a row: a cycle"),
    ))
}

/// A JSON pointer segment for `key` (`/` → `~1`, `~` → `~0`).
pub(crate) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Whether a media type is JSON (`application/json`, `application/problem+json`, `*/*`).
pub fn is_json(media_type: &str) -> bool {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json") || essence == "*/*"
}

fn status_key(key: &str) -> Option<StatusKey> {
    if key == "default" {
        return Some(StatusKey::Default);
    }
    let bytes = key.as_bytes();
    if bytes.len() == 3 && matches!(bytes[0], b'1'..=b'5') && key[1..].eq_ignore_ascii_case("xx") {
        return Some(StatusKey::Range(bytes[0] - b'0'));
    }
    match key.parse::<u16>() {
        Ok(code) if (100..=599).contains(&code) => Some(StatusKey::Code(code)),
        _ => None,
    }
}

/// The `example`, or the first of `examples` (a map of Example objects, or 3.1's list).
fn example_of(holder: &Value) -> Option<Value> {
    if let Some(example) = holder.get("example") {
        return Some(example.clone());
    }
    match holder.get("examples")? {
        Value::Object(named) => named.values().find_map(|e| e.get("value").cloned()),
        Value::Array(list) => list.first().cloned(),
        _ => None,
    }
}

fn first_media_schema(content: Option<&Value>) -> Option<Value> {
    content?
        .as_object()?
        .values()
        .find_map(|media| media.get("schema").cloned())
}

/// The scheme names of a security requirement list; empty when an alternative needs none.
fn security(requirements: Option<&Value>) -> Vec<String> {
    let Some(list) = requirements.and_then(Value::as_array) else {
        return Vec::new();
    };
    let alternatives: Vec<&Map<String, Value>> = list.iter().filter_map(Value::as_object).collect();
    if alternatives.is_empty() || alternatives.iter().any(|a| a.is_empty()) {
        return Vec::new();
    }
    let mut names: Vec<String> = alternatives
        .iter()
        .flat_map(|a| a.keys().cloned())
        .collect();
    names.dedup();
    names
}

/// `servers[].url` with each `{variable}` replaced by its default.
fn servers(root: &Map<String, Value>) -> Vec<String> {
    let Some(list) = root.get("servers").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|server| {
            let mut url = server.get("url")?.as_str()?.to_string();
            if let Some(vars) = server.get("variables").and_then(Value::as_object) {
                for (name, var) in vars {
                    if let Some(default) = var.get("default").and_then(Value::as_str) {
                        url = url.replace(&format!("{{{name}}}"), default);
                    }
                }
            }
            Some(url)
        })
        .collect()
}
