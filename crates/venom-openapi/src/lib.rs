//! venom-openapi: OpenAPI documents (3.0 and 3.1, JSON or YAML) for venom.
//!
//! [`parse`] / [`load_file`] read a document into its [`Operation`]s; [`Conformance`] judges a
//! response against it (status documented, JSON body valid against the schema, with the JSON
//! pointer of the first mismatch); [`plan`] infers which operation produces the identifiers
//! others consume, and [`scenario_text`] writes the commented scenario file `venom init
//! --openapi` gives. Every problem with a document is a [`SpecError`] with its position.
//!
//! JSON Schema validation is the `jsonschema` crate's (drafts 4 to 2020-12, `$ref` cycles,
//! formats); YAML is read by `serde-saphyr`, whose budgets bound aliases and nesting.
#![warn(missing_docs)]

mod conformance;
mod diff;
mod document;
mod error;
mod example;
mod generate;
mod infer;
mod locate;
mod names;
mod negative;
mod routes;
mod schema;

pub use conformance::{key_text, Conformance, Nonconformance};
pub use diff::changes;
pub use document::{
    is_json, load_file, parse, Link, Operation, Parameter, ParameterLocation, RequestBody,
    Response, SecurityScheme, Spec, StatusKey, Version, MAX_SPEC_BYTES,
};
pub use error::SpecError;
pub use example::example_for;
pub use generate::{scenario_text, GenerateOptions, FALLBACK_BASE_URL};
pub use infer::{plan, ContextEntry, Plan, PlannedAction, PlannedObservation};
pub use names::{resource_of_parameter, singular, snake_case};
pub use negative::negative_actions;
pub use routes::PathTemplate;
pub use schema::{Mismatch, Validator};
