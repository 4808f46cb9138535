//! Names derived from a document: action names, context keys, singular resource names.

/// `createOrder`, `create-order`, `Create Order` → `create_order`: `[a-z0-9_]`, starting with a
/// letter or `_`, never empty.
pub fn snake_case(text: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if c.is_ascii_uppercase() {
            if previous_lower && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            previous_lower = false;
        }
    }
    let out = out.trim_matches('_').to_string();
    match out.chars().next() {
        None => "_".into(),
        Some(c) if c.is_ascii_digit() => format!("_{out}"),
        Some(_) => out,
    }
}

/// The singular of a collection name, snake-cased: `orders` → `order`, `categories` →
/// `category`, `addresses` → `address`, `pet` → `pet`.
pub fn singular(word: &str) -> String {
    let word = snake_case(word);
    if let Some(stem) = word.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for ending in ["sses", "shes", "ches", "xes"] {
        if word.ends_with(ending) {
            return word[..word.len() - 2].to_string();
        }
    }
    if word.ends_with('s') && !word.ends_with("ss") && word.len() > 1 {
        return word[..word.len() - 1].to_string();
    }
    word
}

/// The resource a path parameter names, if it names one: `orderId`, `order_id`, `order-id`
/// → `order`; `id` (and `ID`) → `None` (the segment before it names the resource).
pub fn resource_of_parameter(name: &str) -> Option<String> {
    let snake = snake_case(name);
    if snake == "id" {
        return None;
    }
    snake
        .strip_suffix("_id")
        .map(singular)
        .or_else(|| Some(singular(&snake)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_cased_identifiers() {
        assert_eq!(snake_case("createOrder"), "create_order");
        assert_eq!(snake_case("get /orders/{id}"), "get_orders_id");
        assert_eq!(snake_case("2fa-Setup"), "_2fa_setup");
        assert_eq!(snake_case("---"), "_");
        assert_eq!(snake_case("getHTTPStatus"), "get_httpstatus");
    }

    #[test]
    fn singulars_and_parameter_resources() {
        assert_eq!(singular("orders"), "order");
        assert_eq!(singular("categories"), "category");
        assert_eq!(singular("addresses"), "address");
        assert_eq!(singular("pet"), "pet");
        assert_eq!(resource_of_parameter("orderId").as_deref(), Some("order"));
        assert_eq!(resource_of_parameter("order_id").as_deref(), Some("order"));
        assert_eq!(resource_of_parameter("id"), None);
        assert_eq!(
            resource_of_parameter("username").as_deref(),
            Some("username")
        );
    }
}
