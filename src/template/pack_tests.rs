//! Tests of the filter, test and lookup pack, and of corpus expressions against the fixtures.

use super::core_tests::{err, ok, vars};
use super::*;
use serde_json::json;

#[test]
fn encoding_filters() {
    assert_eq!(
        ok("{{ 'hello' | b64encode }}", json!({})),
        json!("aGVsbG8=")
    );
    assert_eq!(
        ok("{{ 'aGVs\nbG8=' | b64decode }}", json!({})),
        json!("hello")
    );
    let e = err("{{ 'abc' | b64decode }}", json!({}));
    assert_eq!(e.message, "Incorrect padding");
}

#[test]
fn default_and_bool() {
    assert_eq!(ok("{{ '' | default('x', true) }}", json!({})), json!("x"));
    assert_eq!(ok("{{ '' | default('x') }}", json!({})), json!(""));
    assert_eq!(ok("{{ '' | d('x', boolean=true) }}", json!({})), json!("x"));
    assert_eq!(
        ok("{{ m | default(default_value='y') }}", json!({})),
        json!("y")
    );
    for (input, expected) in [
        ("'yes'", true),
        ("'On'", true),
        ("'1'", true),
        ("'TRUE'", true),
        ("1", true),
        ("'no'", false),
        ("'y'", false),
        ("2", false),
        ("'false'", false),
        ("true", true),
    ] {
        assert_eq!(
            ok(&format!("{{{{ {input} | bool }}}}"), json!({})),
            json!(expected),
            "{input}"
        );
    }
    assert_eq!(ok("{{ none | bool }}", json!({"none": null})), json!(""));
}

#[test]
fn int_and_float() {
    assert_eq!(ok("{{ '42' | int }}", json!({})), json!(42));
    assert_eq!(ok("{{ '0644' | int }}", json!({})), json!(644));
    assert_eq!(ok("{{ '0644' | int(base=8) }}", json!({})), json!(420));
    assert_eq!(ok("{{ '0x1A' | int(0, 16) }}", json!({})), json!(26));
    assert_eq!(ok("{{ '3.9' | int }}", json!({})), json!(3));
    assert_eq!(ok("{{ 'abc' | int }}", json!({})), json!(0));
    assert_eq!(ok("{{ 'abc' | int(default=7) }}", json!({})), json!(7));
    assert_eq!(ok("{{ '1.5' | float }}", json!({})), json!(1.5));
    assert_eq!(ok("{{ 'x' | float }}", json!({})), json!(0.0));
}

#[test]
fn string_filters() {
    assert_eq!(ok("{{ ' A b ' | trim | lower }}", json!({})), json!("a b"));
    assert_eq!(
        ok("{{ 'ab' | upper | replace('A', 'x') }}", json!({})),
        json!("xB")
    );
    assert_eq!(
        ok("{{ 'a b  c' | split }}", json!({})),
        json!(["a", "b", "c"])
    );
    assert_eq!(ok("{{ 'a,b' | split(',') }}", json!({})), json!(["a", "b"]));
    assert_eq!(ok("{{ ['a', 'b'] | join('-') }}", json!({})), json!("a-b"));
    assert_eq!(ok("{{ [3, 1] | length }}", json!({})), json!(2));
    assert_eq!(
        ok("{{ [3, 1] | first }}-{{ [3, 1] | last }}", json!({})),
        json!("3-1")
    );
    assert_eq!(
        ok("{{ [3, 1] | min }}{{ [3, 1] | max }}", json!({})),
        json!("13")
    );
    assert_eq!(ok("{{ 5 | string }}", json!({})), json!("5"));
}

#[test]
fn regex_filters() {
    assert_eq!(
        ok(
            r"{{ 'ansible-db01' | regex_replace('^(\\w+)-(?P<n>\\w+)$', '\\g<n>/\\1') }}",
            json!({})
        ),
        json!("db01/ansible")
    );
    assert_eq!(
        ok("{{ 'aaa' | regex_replace('a', 'b', count=2) }}", json!({})),
        json!("bba")
    );
    assert_eq!(
        ok("{{ 'cost $5' | regex_replace('\\\\d', '$') }}", json!({})),
        json!("cost $$")
    );
    assert_eq!(
        ok(
            "{{ 'Prod-DB' | regex_search('db', ignorecase=True) }}",
            json!({})
        ),
        json!("DB")
    );
    assert_eq!(ok("{{ 'web' | regex_search('db') }}", json!({})), json!(""));
    assert_eq!(
        ok("{{ 'web' | regex_search('db') is none }}", json!({})),
        json!(true)
    );
    assert_eq!(
        ok(
            "{{ 'k=v' | regex_search('(\\\\w)=(\\\\w)', '\\\\2', '\\\\1') }}",
            json!({})
        ),
        json!(["v", "k"])
    );
    assert_eq!(
        ok("{{ 'a1b22' | regex_findall('\\\\d+') }}", json!({})),
        json!(["1", "22"])
    );
    assert_eq!(
        ok(
            "{{ 'a=1 b=2' | regex_findall('(\\\\w)=(\\\\d)') }}",
            json!({})
        ),
        json!([["a", "1"], ["b", "2"]])
    );
    assert_eq!(
        ok("{{ 'a.b*c' | regex_escape }}", json!({})),
        json!("a\\.b\\*c")
    );
    let e = err("{{ 'a' | regex_replace('(', 'x') }}", json!({}));
    assert!(
        e.message.starts_with("Invalid regular expression '('"),
        "{}",
        e.message
    );
}

#[test]
fn list_filters() {
    assert_eq!(ok("{{ [1, 2, 1] | unique }}", json!({})), json!([1, 2]));
    assert_eq!(
        ok("{{ [1, [2, [3, [4]]]] | flatten }}", json!({})),
        json!([1, 2, 3, 4])
    );
    assert_eq!(
        ok("{{ [1, [2, [3]]] | flatten(levels=1) }}", json!({})),
        json!([1, 2, [3]])
    );
    assert_eq!(
        ok("{{ [1, 2] | union([2, 3]) }}", json!({})),
        json!([1, 2, 3])
    );
    assert_eq!(
        ok("{{ [1, 2] | intersect([2, 3]) }}", json!({})),
        json!([2])
    );
    assert_eq!(
        ok("{{ [1, 2] | difference([2, 3]) }}", json!({})),
        json!([1])
    );
    assert_eq!(
        ok("{{ [1, 2] | symmetric_difference([2, 3]) }}", json!({})),
        json!([1, 3])
    );
    assert_eq!(
        ok("{{ [1, 2] | zip(['a', 'b']) | list }}", json!({})),
        json!([[1, "a"], [2, "b"]])
    );
}

#[test]
fn dict_filters() {
    let v = json!({"a": {"x": 1, "l": [1]}, "b": {"y": 2, "l": [2]}});
    assert_eq!(
        ok("{{ a | combine(b) }}", v.clone()),
        json!({"x": 1, "l": [2], "y": 2})
    );
    assert_eq!(
        ok("{{ a | combine(b, list_merge='append') }}", v.clone()),
        json!({"x": 1, "l": [1, 2], "y": 2})
    );
    assert_eq!(
        ok(
            "{{ {'n': {'a': 1}} | combine({'n': {'b': 2}}, recursive=True) }}",
            json!({})
        ),
        json!({"n": {"a": 1, "b": 2}})
    );
    assert_eq!(
        ok("{{ {'k': 1} | dict2items }}", json!({})),
        json!([{"key": "k", "value": 1}])
    );
    assert_eq!(
        ok(
            "{{ {'k': 1} | dict2items(key_name='n', value_name='v') }}",
            json!({})
        ),
        json!([{"n": "k", "v": 1}])
    );
    assert_eq!(
        ok("{{ [{'key': 'k', 'value': 1}] | items2dict }}", json!({})),
        json!({"k": 1})
    );
    let e = err("{{ [1] | dict2items }}", json!({}));
    assert_eq!(
        e.message,
        "dict2items requires a dictionary, got <class 'list'> instead."
    );
}

#[test]
fn serialisation_filters() {
    let v = json!({"d": {"b": 1, "a": [true, null, "é"]}});
    assert_eq!(
        ok("{{ d | to_json }}", v.clone()),
        json!("{\"b\": 1, \"a\": [true, null, \"\\u00e9\"]}")
    );
    assert_eq!(ok("{{ d | to_nice_json }}", v.clone()), json!("{\n    \"a\": [\n        true,\n        null,\n        \"\\u00e9\"\n    ],\n    \"b\": 1\n}"));
    assert_eq!(
        ok("{{ '{\"a\": [1]}' | from_json }}", json!({})),
        json!({"a": [1]})
    );
    assert_eq!(
        ok("{{ d | to_yaml }}", v.clone()),
        json!("b: 1\na: [true, null, é]\n")
            .as_str()
            .map(|_| json!("a: [true, null, é]\nb: 1\n"))
            .unwrap_or_default()
    );
    assert_eq!(
        ok("{{ 'a: 0644\\nb: yes' | from_yaml }}", json!({})),
        json!({"a": 420, "b": true})
    );
    assert_eq!(
        ok("{{ {'k': [1]} | to_nice_yaml }}", json!({})),
        json!("k:\n-   1\n")
    );
    let e = err("{{ '{' | from_json }}", json!({}));
    assert!(e.message.starts_with("Expecting value"), "{}", e.message);
}

#[test]
fn misc_filters() {
    assert_eq!(ok("{{ true | ternary('a', 'b') }}", json!({})), json!("a"));
    assert_eq!(
        ok("{{ n | ternary('a', 'b', 'c') }}", json!({"n": null})),
        json!("c")
    );
    assert_eq!(
        ok("{{ '/a/b/c.txt' | basename }}", json!({})),
        json!("c.txt")
    );
    assert_eq!(ok("{{ '/a/b/c.txt' | dirname }}", json!({})), json!("/a/b"));
    assert_eq!(
        ok("{{ \"it's me\" | quote }}", json!({})),
        json!("'it'\"'\"'s me'")
    );
    assert_eq!(
        ok("{{ 'safe-path/x' | quote }}", json!({})),
        json!("safe-path/x")
    );
    assert_eq!(
        ok("{{ 'abc' | hash('md5') }}", json!({})),
        json!("900150983cd24fb0d6963f7d28e17f72")
    );
    assert_eq!(
        ok("{{ 'abc' | hash }}", json!({})),
        json!("a9993e364706816aba3e25717850c26c9cd0d89d")
    );
    assert_eq!(
        ok("{{ 'abc' | checksum }}", json!({})),
        json!("a9993e364706816aba3e25717850c26c9cd0d89d")
    );
    assert_eq!(
        ok("{{ 'abc' | hash('sha256') }}", json!({})),
        json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(ok("{{ x | mandatory }}", json!({"x": 1})), json!(1));
    let e = err("{{ db.user | mandatory }}", json!({"db": {}}));
    assert_eq!(e.message, "Mandatory variable 'db.user' not defined.");
    assert_eq!(e.undefined.as_deref(), Some("db.user"));
    let e = err("{{ x | mandatory('set x!') }}", json!({}));
    assert_eq!(e.message, "set x!");
    assert_eq!(ok("{{ [1] | type_debug }}", json!({})), json!("list"));
    assert_eq!(
        ok("{{ 'test' | to_uuid }}", json!({})),
        json!("f4fb6740-9e00-5ac4-9581-f24b6ecfe71e")
    );
    let users = json!({"users": [{"name": "a", "keys": ["k1", "k2"]}, {"name": "b"}]});
    assert_eq!(
        ok(
            "{{ users | subelements('keys', skip_missing=True) | map('last') | list }}",
            users.clone()
        ),
        json!(["k1", "k2"])
    );
    assert!(err("{{ users | subelements('keys') }}", users)
        .message
        .starts_with("could not find 'keys' key"));
}

#[test]
fn unknown_filter_is_named() {
    let e = err("{{ 1 | nosuchfilter }}", json!({}));
    assert!(e.message.contains("nosuchfilter"), "{}", e.message);
}

#[test]
fn result_tests() {
    let v = json!({"ok": {"changed": false, "failed": false}, "bad": {"failed": true},
                   "loop": {"results": [{"changed": false}, {"changed": true}]}, "skip": {"skipped": true}});
    assert_eq!(
        ok(
            "{{ ok is succeeded }}{{ ok is success }}{{ ok is failed }}",
            v.clone()
        ),
        json!("TrueTrueFalse")
    );
    assert_eq!(
        ok("{{ bad is failed }}{{ bad is successful }}", v.clone()),
        json!("TrueFalse")
    );
    assert_eq!(
        ok("{{ loop is changed }}{{ ok is changed }}", v.clone()),
        json!("TrueFalse")
    );
    assert_eq!(
        ok("{{ skip is skipped }}{{ skip is success }}", v.clone()),
        json!("TrueTrue")
    );
    assert_eq!(
        ok("{{ ok is reachable }}{{ ok is unreachable }}", v.clone()),
        json!("TrueFalse")
    );
    let e = err("{{ 'x' is failed }}", json!({}));
    assert_eq!(e.message, "The 'failed' test expects a dictionary");
}

#[test]
fn value_tests() {
    assert_eq!(
        ok(
            "{{ 'db01' is match('db') }}{{ 'xdb' is match('db') }}{{ 'xdb' is search('db') }}",
            json!({})
        ),
        json!("TrueFalseTrue")
    );
    assert_eq!(
        ok("{{ 'DB' is regex('db', ignorecase=true) }}", json!({})),
        json!(true)
    );
    assert_eq!(
        ok("{{ '2.18.1' is version('2.18', '>=') }}", json!({})),
        json!(true)
    );
    assert_eq!(
        ok("{{ '1.9' is version('1.10', 'lt') }}", json!({})),
        json!(true)
    );
    assert_eq!(
        ok(
            "{{ '1.0' is version_compare('1.0', '==', strict=true) }}",
            json!({})
        ),
        json!(true)
    );
    let e = err("{{ '1.0' is version('1.0', 'bogus') }}", json!({}));
    assert!(
        e.message.starts_with("Invalid operator type (bogus)"),
        "{}",
        e.message
    );
    assert_eq!(
        ok(
            "{{ 'yes' is truthy }}{{ 'no' is truthy(convert_bool=True) }}{{ '' is falsy }}",
            json!({})
        ),
        json!("TrueFalseTrue")
    );
    assert_eq!(
        ok(
            "{{ [1] is subset([1, 2]) }}{{ [1, 2] is superset([3]) }}{{ [1, 2] is contains(2) }}",
            json!({})
        ),
        json!("TrueFalseTrue")
    );
    assert_eq!(ok("{{ 1 is integer }}{{ 1.5 is float }}{{ true is boolean }}{{ 's' is string }}{{ {} is mapping }}{{ [] is sequence }}{{ 1 is number }}", json!({})), json!("TrueTrueTrueTrueTrueTrueTrue"));
    assert_eq!(
        ok(
            "{{ none is none }}{{ x is undefined }}",
            json!({"none": null})
        ),
        json!("TrueTrue")
    );
}

fn scope_with_paths<'a>(m: &'a Map, paths: &'a [PathBuf]) -> Scope<'a> {
    Scope {
        vars: m,
        search_paths: paths,
    }
}

#[test]
fn lookups() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = dir.path().to_path_buf();
    std::fs::create_dir_all(base.join("files")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(base.join("templates")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(base.join("files/key.txt"), "secret-key\n\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(base.join("templates/t.j2"), "host={{ h }}\n").unwrap_or_else(|e| panic!("{e}"));
    let paths = vec![base.clone()];
    let m = vars(json!({"h": "db1", "lazy": "{{ h }}!"}));
    let templar = Templar::new();
    let run = |text: &str| templar.template(&json!(text), scope_with_paths(&m, &paths));
    assert_eq!(
        run("{{ lookup('file', 'key.txt') }}"),
        Ok(json!("secret-key"))
    );
    assert_eq!(
        run("{{ lookup('file', 'key.txt', rstrip=False) }}"),
        Ok(json!("secret-key\n\n"))
    );
    assert_eq!(
        run("{{ lookup('ansible.builtin.template', 't.j2') }}"),
        Ok(json!("host=db1\n"))
    );
    assert_eq!(run("{{ lookup('vars', 'lazy') }}"), Ok(json!("db1!")));
    assert_eq!(
        run("{{ lookup('env', 'NO_SUCH_VAR_HR', default='d') }}"),
        Ok(json!("d"))
    );
    assert_eq!(
        run("{{ lookup('pipe', 'echo hi; echo there') }}"),
        Ok(json!("hi\nthere"))
    );
    assert_eq!(
        run("{{ query('items', [1, [2]], 3) }}"),
        Ok(json!([1, [2], 3]))
    );
    assert_eq!(run("{{ lookup('list', 'a', 'b') }}"), Ok(json!("a,b")));
    assert_eq!(
        run("{{ lookup('list', 'a', 'b', wantlist=True) }}"),
        Ok(json!(["a", "b"]))
    );
    assert_eq!(run("{{ q('list', 'a') }}"), Ok(json!(["a"])));
    let e = run("{{ lookup('file', 'missing.txt') }}")
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(e.message, "The 'file' lookup had an issue accessing the file 'missing.txt'. file not found, use -vvvvv to see paths searched");
    assert_eq!(
        run("{{ lookup('file', 'missing.txt', errors='ignore') }}"),
        Ok(json!(""))
    );
    let e = run("{{ lookup('nosuch', 'x') }}")
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(e.message, "lookup plugin (nosuch) not found");
    let e = run("{{ lookup('pipe', 'exit 3') }}")
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert!(
        e.message
            .ends_with("original message: lookup_plugin.pipe(exit 3) returned 3"),
        "{}",
        e.message
    );
    let e = run("{{ lookup('vars', 'nope') }}")
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert!(
        e.message
            .ends_with("No variable found with this name: nope"),
        "{}",
        e.message
    );
}

#[test]
fn registered_lookup_handler() {
    let templar = Templar::new();
    templar.register_lookup(
        "kubernetes.core.k8s",
        std::sync::Arc::new(|terms: &[Value], kwargs: &Map| {
            let _ = terms;
            Ok(vec![json!({"data": {"token": "dG9r"}, "kind": kwargs.get("kind").cloned().unwrap_or_default()})])
        }),
    );
    let m = vars(json!({}));
    let r = templar.template(
        &json!("{{ lookup('kubernetes.core.k8s', kind='Secret', resource_name='x')['data']['token'] | b64decode }}"),
        Scope { vars: &m, search_paths: &[] },
    );
    assert_eq!(r, Ok(json!("tok")));
}

/// Templates the expressions the corpus playbooks use against the Forklift fixtures, loaded
/// through the YAML loader as the engine loads them (`vars_files: [plan.yml, workload.yml]`).
#[test]
fn corpus_expressions_against_fixtures() {
    let fixtures = forklift_dir();
    let Some(corpus) = corpus_dir("corpus_expressions_against_fixtures") else {
        return;
    };
    let load = |path: &std::path::Path| match crate::yaml::load_file(path) {
        Ok(node) => node,
        Err(e) => panic!("{e}"),
    };
    let mut m = Map::new();
    for file in ["plan.yml", "vsphere.workload.yml"] {
        if let Some(map) = crate::yaml::to_map(&load(&fixtures.join(file))) {
            m.extend(map);
        }
    }
    let templar = Templar::new();
    let scope = Scope {
        vars: &m,
        search_paths: &[],
    };
    let playbook = load(&corpus.join("mtv-docs-stop-mariadb.yml"));
    let plays = playbook.as_seq().unwrap_or_default();
    let content = plays
        .get(1)
        .and_then(|p| p.get("tasks"))
        .and_then(|t| t.as_seq()?.get(1)?.get("copy")?.get("content"))
        .map(|c| c.to_value())
        .unwrap_or_default();
    assert_eq!(
        templar.template(&content, scope),
        Ok(json!("Migration from boston of vm-2861 has finished\n"))
    );
    let add_host = plays
        .first()
        .and_then(|p| p.get("tasks"))
        .and_then(|t| t.as_seq()?.get(3)?.get("add_host"))
        .map(|c| c.to_value())
        .unwrap_or_default();
    assert_eq!(
        templar.template(&add_host, scope),
        Ok(json!({"name": "10.10.20.31", "ansible_user": "root", "groups": "vms"}))
    );
    for (expr, expected) in [
        ("{{ vm.vm1.vm0.name }}", json!("rhel9-web01")),
        ("{{ provider.source.name }}", json!("boston")),
        ("{{ vm.vm1.vm0.name | regex_search('(database|db|sql|mysql|postgres)', ignorecase=True) | bool }}", json!("")),
        ("{{ vm.vm1.disks | length }}", json!(1)),
    ] {
        assert_eq!(templar.template(&json!(expr), scope), Ok(expected), "{expr}");
    }
    // The kubectl-mtv guide playbooks use paths that do not exist in real workload files.
    let e = templar
        .template(&json!("{{ vm.name }}"), scope)
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(e.message, "'dict object' has no attribute 'name'");
    assert_eq!(e.undefined.as_deref(), Some("vm.name"));
    let e = templar
        .template(&json!("{{ vm.disks | length }}"), scope)
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(e.message, "'dict object' has no attribute 'disks'");
    let e = templar
        .template(&json!("{{ workload.vm.name }}"), scope)
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(e.message, "'workload' is undefined");
}

#[test]
fn error_messages() {
    let v = json!({"d": {}, "l": [1], "n": null});
    let cases = [
        ("{{ 1 | nosuch }}", "template error while templating string: No filter named 'nosuch'.. String: {{ 1 | nosuch }}"),
        ("{{ 1 is nosuch }}", "template error while templating string: No test named 'nosuch'.. String: {{ 1 is nosuch }}"),
        ("{{ nosuchfn() }}", "'nosuchfn' is undefined"),
        ("{{ missing + 1 }}", "'missing' is undefined"),
        ("{{ d.x.y }}", "'dict object' has no attribute 'x'"),
        ("{{ n.x }}", "'None' has no attribute 'x'"),
        ("{{ l[5] }}", "list object has no element 5"),
        ("echo {{ d['absent'] }}", "'dict object' has no attribute 'absent'"),
        ("{{ d[\"absent\"].x }}", "'dict object' has no attribute 'absent'"),
    ];
    for (text, expected) in cases {
        assert_eq!(err(text, v.clone()).message, expected, "{text}");
    }
    assert!(err("{% if %}", v)
        .message
        .starts_with("template error while templating string: "));
}

#[test]
fn unsafe_variables_are_not_templated() {
    let v = json!({"result": {"stdout": "{{ not_a_var }}"}, "__hook_runner_unsafe__": ["result"], "x": "{{ 1 + 1 }}"});
    assert_eq!(
        ok("{{ result.stdout }}", v.clone()),
        json!("{{ not_a_var }}")
    );
    assert_eq!(ok("{{ x }}", v), json!(2));
}

#[test]
fn unsafe_paths_inside_a_variable_are_not_templated() {
    let v = json!({
        "hostvars": {"web.1": {"result": {"stdout": "{{ lookup('pipe', 'false') }}"}, "lazy": "{{ 1 + 1 }}"}},
        "__hook_runner_unsafe__": ["hostvars.web.1.result"],
    });
    assert_eq!(
        ok("{{ hostvars['web.1'].result.stdout }}", v.clone()),
        json!("{{ lookup('pipe', 'false') }}")
    );
    assert_eq!(
        ok("{{ hostvars['web.1']['result'] }}", v.clone()),
        json!({"stdout": "{{ lookup('pipe', 'false') }}"})
    );
    // Other values of the same host stay lazy.
    assert_eq!(ok("{{ hostvars['web.1'].lazy }}", v), json!(2));
}

#[test]
fn jinja_and_python_idioms() {
    let v = json!({"d": {"k": "v"}, "x": "name"});
    let cases = [
        ("{{ '{}-{}'.format('a', 1) }}", json!("a-1")),
        ("{{ '%s-%d' % ('a', 1) }}", json!("a-1")),
        ("{{ ['a', 'b'].index('b') }}", json!(1)),
        ("{{ 'abc'.index('c') }}", json!(2)),
        ("{{ '42'.isdigit() }}", json!(true)),
        ("{{ '7'.zfill(3) }}", json!("007")),
        ("{{ 'a=b=c'.partition('=') }}", json!(["a", "=", "b=c"])),
        ("{{ 'ab'.ljust(4, '.') }}", json!("ab..")),
        ("{{ 'v=%s' % x }}!", json!("v=name!")),
        ("{{ \"%s/%s\" % (d.k, x | upper) }}", json!("v/NAME")),
        ("{{ d.items() | list }}", json!([["k", "v"]])),
        ("{{ 'a b'.split() }}", json!(["a", "b"])),
        ("{{ x.endswith('e') }}", json!(true)),
        ("{{ 'A' in x }}", json!(false)),
        ("{{ range(3) | list }}", json!([0, 1, 2])),
        ("{{ 5 // 2 }} {{ 5 / 2 }}", json!("2 2.5")),
        (
            "{{ [{'a':1},{'a':2}] | map(attribute='a') | list }}",
            json!([1, 2]),
        ),
        (
            "{{ [{'a':1},{'a':2}] | selectattr('a', 'equalto', 2) | list }}",
            json!([{"a": 2}]),
        ),
        ("{{ x[0:2] }}", json!("na")),
        ("{{ true }}|{{ none }}|{{ 1.5 }}", json!("True||1.5")),
        ("{{ now().year > 2000 }}", json!(true)),
        ("{{ now(fmt='%Y') | int > 2000 }}", json!(true)),
        (
            "{{ '%Y-%m-%d' | strftime(0, utc=True) }}",
            json!("1970-01-01"),
        ),
        ("{{ ['only'] | random }}", json!("only")),
        ("{{ 1 | random }}", json!(0)),
        ("{{ [1] | shuffle }}", json!([1])),
        ("{{ missing | default(undef()) is undefined }}", json!(true)),
    ];
    for (text, expected) in cases {
        assert_eq!(ok(text, v.clone()), expected, "{text}");
    }
}

#[test]
fn lazy_mappings_behave_like_dicts() {
    let v = json!({"cfg": {"host": "{{ h }}", "port": 22}, "h": "db1", "lst": ["{{ h }}", 2],
                   "hostvars": {"h1": {"ip": "{{ h }}", "bad": "{{ undefined_thing }}"}}});
    let cases = [
        ("x{{ cfg }}", json!("x{'host': 'db1', 'port': 22}")),
        (
            "{{ cfg.items() | list }}",
            json!([["host", "db1"], ["port", 22]]),
        ),
        ("{{ cfg | dict2items | length }}", json!(2)),
        (
            "{% for k, v in cfg.items() %}{{ k }}={{ v }};{% endfor %}",
            json!("host=db1;port=22;"),
        ),
        ("{{ cfg.get('host') }}", json!("db1")),
        ("{{ 'host' in cfg }}", json!(true)),
        ("x{{ lst }}", json!("x['db1', 2]")),
        (
            "{{ cfg | combine({'a': 1}) }}",
            json!({"host": "db1", "port": 22, "a": 1}),
        ),
        // `to_json`'s text stays text (Ansible's string-type filters); other JSON text is
        // read back as a literal, `true`/`false`/`null` included.
        (
            "{{ cfg | to_json }}",
            json!("{\"host\": \"db1\", \"port\": 22}"),
        ),
        ("{{ {'a': true} | to_json }}", json!("{\"a\": true}")),
        ("{{ {'a': true} | to_json | trim }}", json!({"a": true})),
        ("{{ [1] | string }}", json!("[1]")),
        (
            "{{ '' }}{\"n\": null, \"t\": true}",
            json!({"n": null, "t": true}),
        ),
        // Only the value read is templated: the broken sibling does not matter.
        ("{{ hostvars['h1'].ip }}", json!("db1")),
    ];
    for (text, expected) in cases {
        assert_eq!(ok(text, v.clone()), expected, "{text}");
    }
    assert_eq!(
        err("{{ hostvars.h1.bad }}", v).message,
        "'undefined_thing' is undefined"
    );
}

#[test]
#[ignore]
fn bench_template_throughput() {
    let workload = crate::yaml::load_file(&forklift_dir().join("vsphere.workload.yml"))
        .map(|n| n.to_value())
        .unwrap_or_default();
    let mut m = Map::new();
    for i in 0..200 {
        m.insert(format!("v{i}"), json!(format!("value {i}")));
    }
    m.insert("vm".into(), workload.clone());
    m.insert("hostvars".into(), json!({"a": m.clone(), "b": m.clone()}));
    let templar = Templar::new();
    let t0 = std::time::Instant::now();
    for _ in 0..2000 {
        let _ = templar.template(
            &json!("{{ vm.vm1.vm0.name }}-{{ v1 }}"),
            Scope {
                vars: &m,
                search_paths: &[],
            },
        );
        let _ = templar.condition(
            "v2 == 'value 2'",
            Scope {
                vars: &m,
                search_paths: &[],
            },
        );
    }
    eprintln!("BENCH 2000 x (template + condition): {:?}", t0.elapsed());
}

#[test]
fn python_method_errors() {
    assert_eq!(
        err("{{ ['a'].index('z') }}", json!({})).message,
        "'z' is not in list"
    );
    assert_eq!(
        err("{{ 'abc'.index('z') }}", json!({})).message,
        "substring not found"
    );
}

#[test]
fn fqcn_filters_and_tests() {
    assert_eq!(
        ok("{{ 'a' | ansible.builtin.b64encode }}", json!({})),
        json!("YQ==")
    );
    assert_eq!(
        ok("{{ {'b': 1} | ansible.builtin.to_json }}", json!({})),
        json!({"b": 1})
    );
    assert_eq!(
        ok(
            "{{ '2.1' is ansible.builtin.version('2.0', '>') }}",
            json!({})
        ),
        json!(true)
    );
    assert_eq!(
        ok(
            "{{ lookup('ansible.builtin.env', 'NO_SUCH_VAR_HR') }}",
            json!({})
        ),
        json!("")
    );
    assert_eq!(
        ok(
            "{{ [{'a': 2}, {'a': 1}] | sort(attribute='a') | map(attribute='a') | list }}",
            json!({})
        ),
        json!([1, 2])
    );
    assert_eq!(ok("{{ [1, 2] | join(',') }}", json!({})), json!("1,2"));
}

/// Every template and conditional in the corpus playbooks parses, and the ones that only need
/// the Forklift fixtures render.
#[test]
fn corpus_templates_parse() {
    let Some(corpus) = corpus_dir("corpus_templates_parse") else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(corpus) else {
        panic!("the hook corpus cannot be read");
    };
    fn collect(node: &crate::yaml::Node, key: Option<&str>, out: &mut Vec<(String, bool)>) {
        match &node.value {
            crate::yaml::Yaml::Str(s) if Templar::is_template(s) => out.push((s.clone(), false)),
            crate::yaml::Yaml::Str(s)
                if matches!(
                    key,
                    Some("when" | "failed_when" | "changed_when" | "that" | "until")
                ) =>
            {
                out.push((s.clone(), true))
            }
            crate::yaml::Yaml::Seq(items) => items.iter().for_each(|i| collect(i, key, out)),
            crate::yaml::Yaml::Map(entries) => entries
                .iter()
                .for_each(|(k, v)| collect(v, k.as_str(), out)),
            _ => {}
        }
    }
    let templar = Templar::new();
    let mut checked = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        let node = match crate::yaml::load_file(&path) {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        let mut found = Vec::new();
        collect(&node, None, &mut found);
        for (text, is_condition) in found {
            let parsed = if is_condition {
                templar.env().compile_expression(&text).map(|_| ())
            } else {
                templar.env().template_from_str(&text).map(|_| ())
            };
            assert!(parsed.is_ok(), "{}: {text}: {parsed:?}", path.display());
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} templates found");
}

#[test]
fn templar_shared_across_threads() {
    let templar = Templar::new();
    let m = vars(json!({"a": "{{ b }}", "b": 2}));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    let r = templar.template(
                        &json!("{{ a + 1 }}"),
                        Scope {
                            vars: &m,
                            search_paths: &[],
                        },
                    );
                    assert_eq!(r, Ok(json!(3)));
                }
            });
        }
    });
}

/// Forklift's data shapes, in the repository.
fn forklift_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/forklift")
}

/// The public hook corpus beside the repository. Without it the lab's prerequisite policy
/// applies (`lab::require`): a loud NOT RUN banner, and a failure with `CI=true` (CI has it).
fn corpus_dir(test: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/hooks");
    let what = format!(
        "the public hook corpus {} beside the repository",
        dir.display()
    );
    lab::require(dir.is_dir(), test, &what).then_some(dir)
}
