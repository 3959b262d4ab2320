//! Tests of the Templar core: native values, undefined handling, lazy variables, omit.

use super::*;
use serde_json::json;

pub(crate) fn vars(v: Value) -> Map {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub(crate) fn t(templar: &Templar, text: &str, v: &Map) -> Result<Value, TemplateError> {
    templar.template(
        &Value::String(text.into()),
        Scope {
            vars: v,
            search_paths: &[],
        },
    )
}

pub(crate) fn ok(text: &str, v: Value) -> Value {
    let templar = Templar::new();
    match t(&templar, text, &vars(v)) {
        Ok(r) => r,
        Err(e) => panic!("{text}: {e}"),
    }
}

pub(crate) fn err(text: &str, v: Value) -> TemplateError {
    let templar = Templar::new();
    match t(&templar, text, &vars(v)) {
        Ok(r) => panic!("{text}: expected an error, got {r}"),
        Err(e) => e,
    }
}

fn cond(expr: &str, v: Value) -> Result<bool, TemplateError> {
    let templar = Templar::new();
    let m = vars(v);
    templar.condition(
        expr,
        Scope {
            vars: &m,
            search_paths: &[],
        },
    )
}

#[test]
fn plain_strings_untouched() {
    assert_eq!(ok("hello {x}", json!({})), json!("hello {x}"));
}

#[test]
fn lone_expression_is_native() {
    let v = json!({"n": 420, "l": [1, 2], "d": {"a": 1}, "b": false, "s": "x", "none": null});
    assert_eq!(ok("{{ n }}", v.clone()), json!(420));
    assert_eq!(ok("{{ l }}", v.clone()), json!([1, 2]));
    assert_eq!(ok("{{ d }}", v.clone()), json!({"a": 1}));
    assert_eq!(ok("{{ b }}", v.clone()), json!(false));
    assert_eq!(ok("{{ none }}", v.clone()), json!(null));
    assert_eq!(ok("{{ none | default(none) }}", v.clone()), json!(""));
    assert_eq!(ok("{{ n == 420 }}", v.clone()), json!(true));
    assert_eq!(ok("{{ [1, 'a'] }}", v.clone()), json!([1, "a"]));
    assert_eq!(ok("{{ s }}", v), json!("x"));
}

#[test]
fn multi_part_renders_and_literal_evals_like_2_18() {
    let v = json!({"n": 1, "l": [1, 2], "none": null, "t": true});
    assert_eq!(ok("n={{ n }}", v.clone()), json!("n=1"));
    assert_eq!(ok("[{{ n }}, 2]", v.clone()), json!([1, 2]));
    assert_eq!(ok("{{ l }} ", v.clone()), json!([1, 2]));
    assert_eq!(ok("{{ l }} x", v.clone()), json!("[1, 2] x"));
    assert_eq!(ok("a{{ none }}b", v.clone()), json!("ab"));
    assert_eq!(ok("{{ t }}{{ '' }}", v.clone()), json!(true));
    assert_eq!(ok("{{ 'x' }}\n", v), json!("x\n"));
}

#[test]
fn undefined_variable_errors_name_it() {
    let e = err("{{ missing }}", json!({}));
    assert_eq!(e.message, "'missing' is undefined");
    assert_eq!(e.undefined.as_deref(), Some("missing"));
    let e = err("hello {{ missing }}", json!({}));
    assert_eq!(e.message, "'missing' is undefined");
    let e = err("{{ foo.bar }}", json!({"foo": {"baz": 1}}));
    assert_eq!(e.message, "'dict object' has no attribute 'bar'");
    assert_eq!(e.undefined.as_deref(), Some("foo.bar"));
    let e = err(
        "{{ workload.vm.nmae }}",
        json!({"workload": {"vm": {"name": "x"}}}),
    );
    assert_eq!(e.message, "'dict object' has no attribute 'nmae'");
    assert_eq!(e.undefined.as_deref(), Some("workload.vm.nmae"));
}

#[test]
fn undefined_is_fine_under_default_and_defined() {
    let v = json!({"foo": {"a": 1}});
    assert_eq!(ok("{{ missing | default('d') }}", v.clone()), json!("d"));
    assert_eq!(ok("{{ missing.x | default('d') }}", v.clone()), json!("d"));
    assert_eq!(
        ok("{{ foo.bar.baz | default('d') }}", v.clone()),
        json!("d")
    );
    assert_eq!(ok("{{ missing is defined }}", v.clone()), json!(false));
    assert_eq!(ok("{{ foo.bar is defined }}", v.clone()), json!(false));
    assert_eq!(ok("{{ missing.x is undefined }}", v), json!(true));
}

#[test]
fn conditions() {
    assert_eq!(cond("x == 1", json!({"x": 1})), Ok(true));
    assert_eq!(cond("{{ x == 1 }}", json!({"x": 2})), Ok(false));
    assert_eq!(cond("flag", json!({"flag": false})), Ok(false));
    assert_eq!(cond("x is defined", json!({})), Ok(false));
    assert_eq!(cond("'a' in l", json!({"l": ["a"]})), Ok(true));
    assert_eq!(cond("", json!({})), Ok(true));
    let e = cond("is_database", json!({}))
        .err()
        .unwrap_or_else(|| panic!("expected error"));
    assert_eq!(e.message, "'is_database' is undefined");
    assert_eq!(e.undefined.as_deref(), Some("is_database"));
}

#[test]
fn lazy_variables_template_when_read() {
    let v = json!({"a": "{{ b }}-x", "b": "{{ c }}", "c": 3, "n": "{{ c }}"});
    assert_eq!(ok("{{ a }}", v.clone()), json!("3-x"));
    assert_eq!(ok("{{ n + 1 }}", v.clone()), json!(4));
    let v = json!({"cfg": {"host": "{{ h }}", "port": 22}, "h": "db1"});
    assert_eq!(
        ok("{{ cfg.host }}:{{ cfg.port }}", v.clone()),
        json!("db1:22")
    );
    assert_eq!(
        ok("{{ cfg }}", v.clone()),
        json!({"host": "db1", "port": 22})
    );
    assert_eq!(ok("{{ vars['h'] }}", v), json!("db1"));
}

#[test]
fn lazy_variable_errors() {
    let e = err("{{ a }}", json!({"a": "{{ b }}"}));
    assert_eq!(e.message, "'b' is undefined");
    assert_eq!(e.undefined.as_deref(), Some("b"));
    let e = err("{{ a }}", json!({"a": "{{ b }}", "b": "{{ a }}"}));
    assert!(
        e.message
            .contains("recursive loop detected in template string"),
        "{}",
        e.message
    );
    let e = err("{{ a }}", json!({"a": "{{ a }}"}));
    assert!(
        e.message.contains("recursive loop detected"),
        "{}",
        e.message
    );
}

#[test]
fn omit_token() {
    let templar = Templar::new();
    let token = templar.omit_token().to_string();
    assert!(token.starts_with("__omit_place_holder__"));
    assert_eq!(token.len(), "__omit_place_holder__".len() + 40);
    let m = vars(json!({}));
    let r = t(&templar, "{{ missing | default(omit) }}", &m);
    assert_eq!(r, Ok(json!(token)));
    let stripped = templar.strip_omitted(json!({"a": 1, "b": token}));
    assert_eq!(stripped, json!({"a": 1}));
    assert_ne!(Templar::new().omit_token(), token);
}

#[test]
fn template_recurses_into_structures() {
    let templar = Templar::new();
    let m = vars(json!({"x": "v", "k": "key"}));
    let r = templar.template(
        &json!({"a": ["{{ x }}", 1], "{{ k }}": {"b": "{{ x }}!"}}),
        Scope {
            vars: &m,
            search_paths: &[],
        },
    );
    assert_eq!(r, Ok(json!({"a": ["v", 1], "key": {"b": "v!"}})));
}

#[test]
fn eval_and_render_str() {
    let templar = Templar::new();
    let m = vars(json!({"items": [1, 2], "name": "n"}));
    let scope = Scope {
        vars: &m,
        search_paths: &[],
    };
    assert_eq!(templar.eval("items | length", scope), Ok(json!(2)));
    assert_eq!(templar.eval("{{ items }}", scope), Ok(json!([1, 2])));
    assert_eq!(
        templar.render_str("{% for i in items %}{{ i }}\n{% endfor %}", scope),
        Ok("1\n2\n".into())
    );
    assert_eq!(
        templar.render_str("{{ items }}", scope),
        Ok("[1, 2]".into())
    );
    let e = templar
        .eval("missing", scope)
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(e.message, "'missing' is undefined");
}

#[test]
fn python_methods_and_operators() {
    let v = json!({"s": "a,b", "d": {"k": 1}, "n": "name"});
    assert_eq!(ok("{{ s.split(',') }}", v.clone()), json!(["a", "b"]));
    assert_eq!(ok("{{ s.startswith('a') }}", v.clone()), json!(true));
    assert_eq!(ok("{{ d.get('k') }}", v.clone()), json!(1));
    assert_eq!(ok("{{ d.get('z', 5) }}", v.clone()), json!(5));
    assert_eq!(ok("{{ d.keys() | list }}", v.clone()), json!(["k"]));
    assert_eq!(ok("{{ n ~ '-' ~ 1 }}", v.clone()), json!("name-1"));
    assert_eq!(ok("{{ s.upper() }}", v), json!("A,B"));
}

#[test]
fn syntax_errors_are_worded() {
    let e = err("{{ x foo }}", json!({"x": 1}));
    assert!(
        e.message
            .starts_with("template error while templating string: "),
        "{}",
        e.message
    );
    assert!(e.message.ends_with("String: {{ x foo }}"), "{}", e.message);
}

#[test]
fn templar_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Templar>();
}

#[test]
fn unprotected_undefined_uses_fail_like_ansible() {
    for expr in [
        "not missing",
        "missing == 1",
        "missing or true",
        "'a' in missing",
    ] {
        let e = cond(expr, json!({}))
            .err()
            .unwrap_or_else(|| panic!("{expr}: no error"));
        assert_eq!(e.message, "'missing' is undefined", "{expr}");
    }
    assert_eq!(
        err("{% if missing %}a{% endif %}", json!({})).message,
        "'missing' is undefined"
    );
    assert_eq!(
        err("{% for i in missing %}{{ i }}{% endfor %}", json!({})).message,
        "'missing' is undefined"
    );
    let e = cond("d.x == 1", json!({"d": {}}))
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(e.message, "'dict object' has no attribute 'x'");
    // Protected uses still work.
    assert_eq!(
        cond("missing is defined and missing.x", json!({})),
        Ok(false)
    );
    assert_eq!(cond("missing.x.y is defined", json!({})), Ok(false));
    assert_eq!(cond("missing.x.y is not defined", json!({})), Ok(true));
    assert_eq!(cond("(missing.x | default(3)) == 3", json!({})), Ok(true));
    assert_eq!(cond("d.x.y | default(false)", json!({"d": {}})), Ok(false));
    assert_eq!(
        ok(
            "{% if missing is defined %}a{% else %}b{% endif %}",
            json!({})
        ),
        json!("b")
    );
}

#[test]
fn sibling_keys_of_an_undefined_path() {
    let templar = Templar::new();
    let m = vars(json!({"workload": {"vm": {"name": "x", "id": "1"}}}));
    let scope = Scope {
        vars: &m,
        search_paths: &[],
    };
    let e = templar
        .template(&json!("{{ workload.vm.nmae }}"), scope)
        .err()
        .unwrap_or_else(|| panic!("no error"));
    let path = e.undefined.unwrap_or_default();
    assert_eq!(templar.sibling_keys(&path, scope), ["id", "name"]);
    assert!(templar.sibling_keys("missing", scope).is_empty());
}

/// Variables and arguments as the YAML loader gives them (with `!unsafe` marks).
fn from_yaml(text: &str) -> Value {
    match crate::yaml::load_str(text, "t.yml") {
        Ok(node) => node.to_value(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn unsafe_argument_is_returned_verbatim_without_its_mark() {
    let args = from_yaml(
        "msg: !unsafe \"{{ lookup('pipe', 'echo ran') }}\"\nlist: [!unsafe '{{ a }}', '{{ b }}']\nn: !unsafe '[1, 2]'\n",
    );
    let templar = Templar::new();
    let v = vars(json!({"b": 2}));
    let scope = Scope {
        vars: &v,
        search_paths: &[],
    };
    let out = templar
        .template(&args, scope)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out,
        json!({"msg": "{{ lookup('pipe', 'echo ran') }}", "list": ["{{ a }}", 2], "n": "[1, 2]"})
    );
}

#[test]
fn unsafe_variable_is_data_wherever_it_is_read() {
    let mut v = vars(from_yaml(
        "expected: !unsafe '{{ foo }}'\nviaref: '{{ expected }}'\nmixed: [!unsafe '{{ foo }}', '{{ 1 + 1 }}']\nnested: {k: !unsafe '{% raw %}x' }\n",
    ));
    // A registered result's text, as the engine passes it (data).
    v.insert("stdout".into(), json!("{{ foo }}"));
    v.insert(UNSAFE_VARS.into(), json!(["stdout"]));
    let v = Value::Object(v);
    assert_eq!(ok("{{ expected }}", v.clone()), json!("{{ foo }}"));
    assert_eq!(ok("[{{ expected }}]", v.clone()), json!("[{{ foo }}]"));
    assert_eq!(ok("{{ viaref }}", v.clone()), json!("{{ foo }}"));
    assert_eq!(ok("{{ mixed }}", v.clone()), json!(["{{ foo }}", 2]));
    assert_eq!(ok("{{ nested.k }}", v.clone()), json!("{% raw %}x"));
    assert_eq!(ok("{{ nested }}", v.clone()), json!({"k": "{% raw %}x"}));
    assert_eq!(cond("stdout == expected", v.clone()), Ok(true));
    assert_eq!(ok("{{ vars['expected'] | length }}", v), json!(9));
}

#[test]
fn unsafe_conditional_is_refused_as_ansible_does() {
    let when = from_yaml("!unsafe '{{ true }}'\n");
    let text = when.as_str().unwrap_or_default();
    let err = cond(text, json!({})).err().map(|e| e.message);
    assert_eq!(
        err.as_deref(),
        Some("Conditional is marked as unsafe, and cannot be evaluated.")
    );
}

#[test]
fn unsafe_text_from_from_yaml_never_shows_its_mark() {
    let v = json!({"doc": "a: !unsafe '{{ b }}'", UNSAFE_VARS: ["doc"]});
    assert_eq!(ok("{{ (doc | from_yaml).a }}", v.clone()), json!("{{ b }}"));
    assert_eq!(ok("x {{ (doc | from_yaml).a }}", v), json!("x {{ b }}"));
}
