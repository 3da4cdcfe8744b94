//! Human-readable sizes, ages and tables, as Docker prints them.

/// `4.2MB`, with SI units like `docker images`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    // four significant digits, like Go's %.4g in docker's units package
    let decimals = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let mut n = format!("{v:.decimals$}");
    if n.contains('.') {
        n = n.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{n}{}", UNITS[u])
}

/// `1.5MiB`, with binary units like `docker stats`.
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2}{}", UNITS[u]).replace(".00", "")
}

/// `3 seconds`, `2 hours`, `5 weeks`… between an RFC 3339 time and now.
pub fn age(rfc3339: Option<&str>) -> String {
    let Some(t) = rfc3339.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) else {
        return "N/A".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    duration(secs as u64)
}

pub fn duration(secs: u64) -> String {
    let (n, unit) = match secs {
        0 => return "Less than a second".into(),
        s if s < 60 => (s, "second"),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86400 * 2 => (s / 3600, "hour"),
        s if s < 86400 * 14 => (s / 86400, "day"),
        s if s < 86400 * 60 => (s / (86400 * 7), "week"),
        s if s < 86400 * 365 * 2 => (s / (86400 * 30), "month"),
        s => (s / (86400 * 365), "year"),
    };
    if n == 1 {
        format!("{} {unit}", if unit == "hour" { "An" } else { "1" })
    } else {
        format!("{n} {unit}s")
    }
}

/// Prints rows as left-aligned columns three spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut all = Vec::with_capacity(rows.len() + 1);
    all.push(header.iter().map(|h| h.to_string()).collect());
    all.extend(rows.iter().cloned());
    print!("{}", align(&all));
}

/// Lines of cells as left-aligned columns three spaces apart (the last column unpadded).
pub fn align(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            let w = c.chars().count();
            match widths.get_mut(i) {
                Some(x) => *x = (*x).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{:<w$}   ", c, w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `--format` as docker reads it: the default table, `json`, a Go template
/// (`{{.ID}}`, `{{json .}}`), or `table TEMPLATE` (a template with a header row,
/// its columns separated by `\t` and aligned).
pub enum Format {
    Default,
    Json,
    Template { table: bool, template: gotmpl::Template },
}

impl Format {
    /// Parses a `--format` value; `None`, `""` and `table` are the default table.
    pub fn parse(value: Option<&str>) -> Result<Format, super::UsageError> {
        let v = value.unwrap_or("").trim();
        match v {
            "" | "table" => return Ok(Format::Default),
            "json" => return Ok(Format::Json),
            _ => {}
        }
        let (table, text) = match v.strip_prefix("table ") {
            Some(rest) => (true, rest),
            None => (false, v),
        };
        // as docker: \t and \n typed on the command line mean a tab and a newline
        let text = text.replace("\\t", "\t").replace("\\n", "\n");
        let template = template_functions(gotmpl::Template::new(""))
            .missing_key(gotmpl::MissingKey::Error)
            .parse(&text)
            .map_err(|e| super::UsageError(format!("invalid --format {v:?}: {e}")))?;
        Ok(Format::Template { table, template })
    }

    /// Renders one value (serialized with Docker's field names) through the template.
    pub fn render<T: serde::Serialize>(template: &gotmpl::Template, value: &T) -> Result<String, super::UsageError> {
        let data = gotmpl::to_value(value).map_err(|e| super::UsageError(format!("--format: {e}")))?;
        template.execute_to_string(&data).map_err(|e| super::UsageError(format!("--format: {e}")))
    }
}

/// Prints list rows: the default table of `columns` (field, header), or each
/// row through a template. `Format::Json` is the caller's to print.
pub fn print_rows<T: serde::Serialize>(
    format: &Format,
    rows: &[T],
    columns: &[(&str, &str)],
) -> Result<(), super::UsageError> {
    use std::io::Write;
    let mut out = String::new();
    match format {
        Format::Default | Format::Json => {
            let mut cells: Vec<Vec<String>> = vec![columns.iter().map(|(_, h)| h.to_string()).collect()];
            for r in rows {
                let v = serde_json::to_value(r).expect("rows serialize");
                cells.push(columns.iter().map(|(f, _)| plain(&v[*f])).collect());
            }
            out = align(&cells);
        }
        Format::Template { table, template } => {
            let mut lines: Vec<String> = Vec::with_capacity(rows.len() + 1);
            if *table {
                // the header row is the template run on each field's header
                let headers: std::collections::BTreeMap<&str, &str> = columns.iter().copied().collect();
                lines.push(Format::render(template, &headers).unwrap_or_default());
            }
            for r in rows {
                lines.push(Format::render(template, r)?);
            }
            if *table {
                let cells: Vec<Vec<String>> = lines.iter().map(|l| l.split('\t').map(String::from).collect()).collect();
                out = align(&cells);
            } else {
                for l in lines {
                    out.push_str(&l);
                    out.push('\n');
                }
            }
        }
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}

/// Prints inspected objects: a JSON array by default, or each through a template.
pub fn print_objects<T: serde::Serialize>(format: &Format, objects: &[T]) -> Result<(), super::UsageError> {
    match format {
        Format::Template { template, .. } => {
            for o in objects {
                println!("{}", Format::render(template, o)?);
            }
        }
        Format::Default | Format::Json => {
            println!("{}", serde_json::to_string_pretty(objects).expect("serializes"))
        }
    }
    Ok(())
}

/// A JSON value as a table cell: strings bare, nothing for null.
fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Docker's template functions: json, join, split, lower, upper, title, truncate, pad.
fn template_functions(t: gotmpl::Template) -> gotmpl::Template {
    use gotmpl::Value;
    let text = |v: Option<&Value>| v.map(|v| v.to_string()).unwrap_or_default();
    t.func("json", |args: &[Value]| {
        Ok(Value::String(args.first().map(json_of).unwrap_or(serde_json::Value::Null).to_string().into()))
    })
    .func("join", move |args: &[Value]| {
        let sep = text(args.get(1));
        let items: Vec<String> = match args.first() {
            Some(Value::List(l)) => l.iter().map(|v| v.to_string()).collect(),
            Some(v) => vec![v.to_string()],
            None => Vec::new(),
        };
        Ok(Value::String(items.join(&sep).into()))
    })
    .func("split", move |args: &[Value]| {
        let (s, sep) = (text(args.first()), text(args.get(1)));
        Ok(Value::List(s.split(sep.as_str()).map(|p| Value::String(p.into())).collect::<Vec<_>>().into()))
    })
    .func("lower", move |args: &[Value]| Ok(Value::String(text(args.first()).to_lowercase().into())))
    .func("upper", move |args: &[Value]| Ok(Value::String(text(args.first()).to_uppercase().into())))
    .func("title", move |args: &[Value]| {
        let s = text(args.first());
        let mut c = s.chars();
        let t: String = c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default();
        Ok(Value::String(t.into()))
    })
    .func("truncate", move |args: &[Value]| {
        let n = match args.get(1) {
            Some(Value::Int(n)) => (*n).max(0) as usize,
            Some(Value::Uint(n)) => *n as usize,
            _ => usize::MAX,
        };
        Ok(Value::String(text(args.first()).chars().take(n).collect::<String>().into()))
    })
    .func("pad", move |args: &[Value]| {
        let n = |v: Option<&Value>| match v {
            Some(Value::Int(n)) => (*n).max(0) as usize,
            Some(Value::Uint(n)) => *n as usize,
            _ => 0,
        };
        Ok(Value::String(
            format!("{}{}{}", " ".repeat(n(args.get(1))), text(args.first()), " ".repeat(n(args.get(2)))).into(),
        ))
    })
}

/// A template value back as JSON, for `{{json .}}`.
fn json_of(v: &gotmpl::Value) -> serde_json::Value {
    use gotmpl::Value;
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Uint(u) => (*u).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number).unwrap_or_default(),
        Value::List(l) => l.iter().map(json_of).collect(),
        Value::Map(m) => m.iter().map(|(k, v)| (k.to_string(), json_of(v))).collect::<serde_json::Map<_, _>>().into(),
        other => other.to_string().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(999), "999B");
        assert_eq!(size(4_200_000), "4.2MB");
        assert_eq!(size(236_000_000), "236MB");
        assert_eq!(size(1_234_567_890), "1.235GB");
        assert_eq!(size(1_500), "1.5kB");
    }

    #[derive(serde::Serialize)]
    struct Row {
        #[serde(rename = "ID")]
        id: &'static str,
        #[serde(rename = "Names")]
        names: &'static str,
        #[serde(rename = "State")]
        state: State,
    }

    #[derive(serde::Serialize)]
    struct State {
        #[serde(rename = "Pid")]
        pid: i32,
        #[serde(rename = "Labels")]
        labels: Vec<&'static str>,
    }

    fn row(id: &'static str, names: &'static str) -> Row {
        Row { id, names, state: State { pid: 42, labels: vec!["a=1", "b=2"] } }
    }

    fn template(f: &str) -> gotmpl::Template {
        match Format::parse(Some(f)).unwrap() {
            Format::Template { template, .. } => template,
            _ => panic!("{f} is a template"),
        }
    }

    #[test]
    fn go_templates_as_docker_reads_them() {
        let r = row("0123456789ab", "web");
        assert_eq!(Format::render(&template("{{.State.Pid}}"), &r).unwrap(), "42");
        assert_eq!(Format::render(&template("{{.ID}}: {{.Names}}"), &r).unwrap(), "0123456789ab: web");
        assert_eq!(Format::render(&template("{{join .State.Labels \",\"}}"), &r).unwrap(), "a=1,b=2");
        assert_eq!(Format::render(&template("{{upper .Names}} {{truncate .ID 4}}"), &r).unwrap(), "WEB 0123");
        let json: serde_json::Value =
            serde_json::from_str(&Format::render(&template("{{json .}}"), &r).unwrap()).unwrap();
        assert_eq!(json["State"]["Pid"], 42);
        assert_eq!(json["Names"], "web");
        assert_eq!(Format::render(&template("{{json .State.Labels}}"), &r).unwrap(), r#"["a=1","b=2"]"#);
        assert_eq!(Format::render(&template("{{range .State.Labels}}[{{.}}]{{end}}"), &r).unwrap(), "[a=1][b=2]");
        assert_eq!(Format::render(&template("{{if eq .Names \"web\"}}yes{{end}}"), &r).unwrap(), "yes");
        // a field that does not exist is an error naming it, not an empty column
        let e = Format::render(&template("{{.Nope}}"), &r).unwrap_err();
        assert!(e.0.contains("Nope"), "{}", e.0);
        // a template that does not parse is refused when the flag is read
        assert!(Format::parse(Some("{{.ID")).is_err());
        assert!(matches!(Format::parse(Some("table")).unwrap(), Format::Default));
        assert!(matches!(Format::parse(None).unwrap(), Format::Default));
        assert!(matches!(Format::parse(Some("json")).unwrap(), Format::Json));
        assert!(matches!(Format::parse(Some("table {{.ID}}")).unwrap(), Format::Template { table: true, .. }));
    }

    #[test]
    fn table_templates_align_their_columns_under_a_header() {
        let rows =
            vec![vec!["CONTAINER ID".to_string(), "NAMES".to_string()], vec!["0123".to_string(), "web".to_string()]];
        assert_eq!(align(&rows), "CONTAINER ID   NAMES\n0123           web\n");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(5), "5 seconds");
        assert_eq!(duration(3600), "An hour");
        assert_eq!(duration(86400 * 3), "3 days");
        assert_eq!(duration(86400 * 365 * 3), "3 years");
    }
}
