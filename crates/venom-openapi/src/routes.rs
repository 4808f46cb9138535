//! Path templates (`/orders/{id}/pay`): their parameters, and matching a request's path.

/// A compiled OpenAPI path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A whole segment that is one parameter (`{id}`).
    Parameter(String),
    /// A segment mixing text and parameters (`{name}.json`): matched as a parameter.
    Mixed(Vec<String>),
}

impl PathTemplate {
    /// Compiles `path`; fails on an unclosed or empty `{…}`.
    pub fn parse(path: &str) -> Result<PathTemplate, String> {
        let mut segments = Vec::new();
        for segment in path.trim_start_matches('/').split('/') {
            let names = parameter_names(segment)?;
            segments.push(match names.as_slice() {
                [] => Segment::Literal(segment.to_string()),
                [name] if segment == format!("{{{name}}}") => Segment::Parameter(name.clone()),
                _ => Segment::Mixed(names),
            });
        }
        Ok(PathTemplate { segments })
    }

    /// The names of its parameters, in order.
    pub fn parameter_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().flat_map(|segment| {
            let names: Vec<&str> = match segment {
                Segment::Literal(_) => Vec::new(),
                Segment::Parameter(name) => vec![name.as_str()],
                Segment::Mixed(names) => names.iter().map(String::as_str).collect(),
            };
            names
        })
    }

    /// How many segments are literal: a more literal template is the better match.
    pub fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    /// Whether `path` (no query string) is an instance of this template.
    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        parts.len() == self.segments.len()
            && self
                .segments
                .iter()
                .zip(parts)
                .all(|(segment, part)| match segment {
                    Segment::Literal(text) => text == part,
                    Segment::Parameter(_) | Segment::Mixed(_) => !part.is_empty(),
                })
    }

    /// The literal segment right before the parameter `name`, if it directly follows one
    /// (`orders` for `id` in `/orders/{id}`).
    pub fn segment_before(&self, name: &str) -> Option<&str> {
        let at = self
            .segments
            .iter()
            .position(|s| matches!(s, Segment::Parameter(n) if n == name))?;
        match self.segments.get(at.checked_sub(1)?)? {
            Segment::Literal(text) => Some(text),
            _ => None,
        }
    }
}

fn parameter_names(segment: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = segment;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("`{{` without `}}` in segment `{segment}`"))?;
        let name = &after[..close];
        if name.is_empty() {
            return Err(format!("empty `{{}}` in segment `{segment}`"));
        }
        names.push(name.to_string());
        rest = &after[close + 1..];
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_matches_its_instances_only() {
        let t = PathTemplate::parse("/orders/{id}/pay").unwrap();
        assert!(t.matches("/orders/12/pay"));
        assert!(!t.matches("/orders/12"));
        assert!(!t.matches("/orders//pay"));
        assert!(!t.matches("/orders/12/refund"));
        assert_eq!(t.parameter_names().collect::<Vec<_>>(), ["id"]);
        assert_eq!(t.segment_before("id"), Some("orders"));
        assert!(PathTemplate::parse("/a/{b").is_err());
        assert!(PathTemplate::parse("/a/{}").is_err());
    }
}
