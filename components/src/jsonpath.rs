//! JSONPath (RFC 9535) queries, compiled when a manifest loads.

use serde_json::Value;
use serde_json_path::JsonPath;

pub fn compile(path: &str) -> Result<JsonPath, String> {
    JsonPath::parse(path).map_err(|e| format!("invalid JSONPath {path:?}: {e}"))
}

/// The first node a path selects, if any.
pub fn first(path: &str, v: &Value) -> Result<Option<Value>, String> {
    Ok(compile(path)?.query(v).first().cloned())
}

/// Every node a path selects; a path that selects one array yields its
/// elements, so `$.items` and `$.items[*]` mean the same list.
pub fn all(path: &str, v: &Value) -> Result<Vec<Value>, String> {
    let nodes = compile(path)?.query(v).all();
    Ok(match nodes.as_slice() {
        [Value::Array(a)] => a.clone(),
        _ => nodes.into_iter().cloned().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_and_all() {
        let v = json!({"a": {"items": [{"id": 1}, {"id": 2}]}, "next": ""});
        assert_eq!(first("$.a.items[1].id", &v).unwrap(), Some(json!(2)));
        assert_eq!(first("$.missing", &v).unwrap(), None);
        assert_eq!(all("$.a.items", &v).unwrap().len(), 2);
        assert_eq!(
            all("$.a.items[*].id", &v).unwrap(),
            vec![json!(1), json!(2)]
        );
        assert!(compile("$.a[").is_err());
    }
}
