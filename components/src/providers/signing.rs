//! Nango's request-signing interpolations that map onto a manifest signing
//! scheme instead of a header template.

/// The arguments of `${awsSigV4(key, secret, region, service[, host])}`, a
/// whole header value; `None` for anything else. The host argument is not
/// needed: the signer signs the request's own host.
pub fn aws_sigv4_args(value: &str) -> Option<[String; 4]> {
    let inner = value
        .trim()
        .strip_prefix("${awsSigV4(")?
        .strip_suffix(")}")?;
    let mut args = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '{' | '(' => depth += 1,
            '}' | ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                args.push(inner[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    args.push(inner[start..].trim().to_string());
    if !(4..=5).contains(&args.len()) || args.iter().any(String::is_empty) {
        return None;
    }
    args.truncate(4);
    args.try_into().ok()
}

/// A header the signer sets itself (`x-amz-date: ${now:…}`).
pub fn set_by_signer(name: &str) -> bool {
    name.eq_ignore_ascii_case("x-amz-date")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_four_or_five_arguments() {
        assert_eq!(
            aws_sigv4_args(
                "${awsSigV4(${credentials.username}, ${credentials.password}, us-east-1, iam)}"
            )
            .unwrap(),
            [
                "${credentials.username}",
                "${credentials.password}",
                "us-east-1",
                "iam"
            ]
        );
        let five = aws_sigv4_args(
            "${awsSigV4(${credentials.username}, ${credentials.password}, ${connectionConfig.region}, inspector2, inspector2.${connectionConfig.region}.amazonaws.com)}",
        )
        .unwrap();
        assert_eq!(five[2], "${connectionConfig.region}");
        assert_eq!(five[3], "inspector2");
        assert!(aws_sigv4_args("${awsSigV4(a, b)}").is_none());
        assert!(aws_sigv4_args("Bearer ${apiKey}").is_none());
    }
}
