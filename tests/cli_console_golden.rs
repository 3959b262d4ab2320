//! The console renderer against a whole run of real ansible-playbook output.
//!
//! `EXPECTED` is the stdout of `ansible-playbook [core 2.18.19]` (no tty) for the playbook in
//! `PLAYBOOK` below, recorded on the development machine. The events are what the engine emits
//! for that run; the console must print the same text, then hook-runner's failure summary.

use hook_runner::report::console::Renderer;
use hook_runner::report::{Event, HostStats, Status, TaskInfo};
use hook_runner::{Map, Value};
use serde_json::json;

#[allow(dead_code)]
const PLAYBOOK: &str = r#"
- name: Main
  hosts: localhost
  gather_facts: false
  tasks:
    - {name: Say hello, debug: {msg: hello}}
    - {name: Touch, command: "true"}
    - {name: Skip me, command: "true", when: false}
    - {name: Loop, debug: {msg: "{{ item }}"}, loop: [a, b]}
    - name: Loop label
      command: "echo {{ item.n }}"
      loop: [{n: 1}, {n: 2}]
      loop_control: {label: "{{ item.n }}"}
      changed_when: false
    - {name: Loop dict item, command: "true", loop: [{n: 1, s: "it's"}], changed_when: false}
    - {name: Loop skip, command: "true", loop: [1, 2], when: item == 2}
    - {name: Loop skip all, command: "true", loop: [1, 2], when: item == 3}
    - {name: Fail ignored, fail: {msg: boom}, ignore_errors: true}
    - {name: Retry, command: "false", register: r, until: r.rc == 0, retries: 2, delay: 0, ignore_errors: true}
    - {name: Delegated, command: "true", delegate_to: localhost}
    - {name: Loop fail, command: "{{ item }}", loop: ["true", "false"], ignore_errors: true}
    - {name: no log, command: "false", no_log: true, ignore_errors: true}
    - {name: Warn, debug: {msg: "x"}, notify: h}
  handlers:
    - {name: h, debug: {msg: handled}}
- name: Second play with a much longer name that goes on and on to exceed eighty columns wide
  hosts: nothere
  tasks:
    - debug: msg=x
- name: Third
  hosts: localhost
  gather_facts: false
  tasks:
    - {name: Stop MariaDB, service: {name: mariadb-nonexistent, state: stopped}}
"#;

const EXPECTED: &str = r#"
PLAY [Main] ********************************************************************

TASK [Say hello] ***************************************************************
ok: [localhost] => {
    "msg": "hello"
}

TASK [Touch] *******************************************************************
changed: [localhost]

TASK [Skip me] *****************************************************************
skipping: [localhost]

TASK [Loop] ********************************************************************
ok: [localhost] => (item=a) => {
    "msg": "a"
}
ok: [localhost] => (item=b) => {
    "msg": "b"
}

TASK [Loop label] **************************************************************
ok: [localhost] => (item=1)
ok: [localhost] => (item=2)

TASK [Loop dict item] **********************************************************
ok: [localhost] => (item={'n': 1, 's': "it's"})

TASK [Loop skip] ***************************************************************
skipping: [localhost] => (item=1) 
changed: [localhost] => (item=2)

TASK [Loop skip all] ***********************************************************
skipping: [localhost] => (item=1) 
skipping: [localhost] => (item=2) 
skipping: [localhost]

TASK [Fail ignored] ************************************************************
fatal: [localhost]: FAILED! => {"changed": false, "msg": "boom"}
...ignoring

TASK [Retry] *******************************************************************
FAILED - RETRYING: [localhost]: Retry (2 retries left).
FAILED - RETRYING: [localhost]: Retry (1 retries left).
fatal: [localhost]: FAILED! => {"attempts": 2, "changed": true, "cmd": ["false"], "delta": "0:00:00.004044", "end": "2026-11-25 21:42:30.799172", "msg": "non-zero return code", "rc": 1, "start": "2026-11-25 21:42:30.795128", "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": []}
...ignoring

TASK [Delegated] ***************************************************************
changed: [localhost]

TASK [Loop fail] ***************************************************************
changed: [localhost] => (item=true)
failed: [localhost] (item=false) => {"ansible_loop_var": "item", "changed": true, "cmd": ["false"], "delta": "0:00:00.003855", "end": "2026-11-25 21:42:31.398779", "item": "false", "msg": "non-zero return code", "rc": 1, "start": "2026-11-25 21:42:31.394924", "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": []}
...ignoring

TASK [no log] ******************************************************************
fatal: [localhost]: FAILED! => {"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result", "changed": true}
...ignoring

TASK [Warn] ********************************************************************
ok: [localhost] => {
    "msg": "x"
}

PLAY [Second play with a much longer name that goes on and on to exceed eighty columns wide] ***
skipping: no hosts matched

PLAY [Third] *******************************************************************

TASK [Stop MariaDB] ************************************************************
fatal: [localhost]: FAILED! => {"changed": false, "msg": "Could not find the requested service mariadb-nonexistent: host"}

PLAY RECAP *********************************************************************
localhost                  : ok=12   changed=6    unreachable=0    failed=1    skipped=2    rescued=0    ignored=4   

"#;

fn obj(v: Value) -> Map {
    v.as_object().cloned().unwrap_or_default()
}

struct Run {
    events: Vec<Event>,
    next: u32,
}

impl Run {
    fn task(&mut self, name: &str, action: &str) -> TaskInfo {
        self.next += 1;
        let task = TaskInfo {
            name: name.into(),
            action: action.into(),
            path: format!("pb.yml:{}", self.next * 3),
            is_handler: false,
            uuid: format!("task-{}", self.next),
        };
        self.events.push(Event::TaskStart { task: task.clone() });
        task
    }

    fn result(&mut self, task: &TaskInfo, status: Status, result: Value, item: Option<Value>) {
        self.events.push(Event::HostResult {
            host: "localhost".into(),
            task: task.clone(),
            status,
            result: obj(result),
            item,
            delegated_to: None,
        });
    }

    fn item(&mut self, task: &TaskInfo, status: Status, item: Value, extra: Value) {
        let mut result = obj(
            json!({"ansible_loop_var": "item", "item": item.clone(), "changed": status == Status::Changed}),
        );
        result.extend(obj(extra));
        self.result(task, status, Value::Object(result), Some(item));
    }

    fn aggregate(&mut self, task: &TaskInfo, status: Status, n: usize) {
        let results: Vec<Value> = (0..n)
            .map(|_| json!({"ansible_loop_var": "item"}))
            .collect();
        self.result(
            task,
            status,
            json!({"changed": false, "results": results}),
            None,
        );
    }
}

fn command_result(rc: i64, extra: Value) -> Value {
    let mut r = obj(json!({
        "changed": true, "cmd": ["false"], "delta": "0:00:00.004044",
        "end": "2026-11-25 21:42:30.799172", "msg": "non-zero return code", "rc": rc,
        "start": "2026-11-25 21:42:30.795128", "stderr": "", "stderr_lines": [],
        "stdout": "", "stdout_lines": [], "failed": true, "invocation": {"module_args": {}}
    }));
    r.extend(obj(extra));
    Value::Object(r)
}

fn events() -> Vec<Event> {
    let mut run = Run {
        events: vec![Event::PlaybookStart {
            playbook: "pb.yml".into(),
        }],
        next: 0,
    };
    run.events.push(Event::PlayStart {
        name: "Main".into(),
        pattern: "localhost".into(),
        uuid: "p1".into(),
    });
    let t = run.task("Say hello", "debug");
    run.result(
        &t,
        Status::Ok,
        json!({"msg": "hello", "changed": false, "_ansible_verbose_always": true}),
        None,
    );
    let t = run.task("Touch", "command");
    run.result(
        &t,
        Status::Changed,
        json!({"changed": true, "rc": 0, "stdout": ""}),
        None,
    );
    let t = run.task("Skip me", "command");
    run.result(&t, Status::Skipped, json!({"changed": false, "skipped": true, "false_condition": false, "skip_reason": "Conditional result was False"}), None);
    let t = run.task("Loop", "ansible.builtin.debug");
    run.item(
        &t,
        Status::Ok,
        json!("a"),
        json!({"msg": "a", "_ansible_verbose_always": true}),
    );
    run.item(
        &t,
        Status::Ok,
        json!("b"),
        json!({"msg": "b", "_ansible_verbose_always": true}),
    );
    run.aggregate(&t, Status::Ok, 2);
    let t = run.task("Loop label", "command");
    run.item(
        &t,
        Status::Ok,
        json!({"n": 1}),
        json!({"_ansible_item_label": 1}),
    );
    run.item(
        &t,
        Status::Ok,
        json!({"n": 2}),
        json!({"_ansible_item_label": 2}),
    );
    run.aggregate(&t, Status::Ok, 2);
    let t = run.task("Loop dict item", "command");
    run.item(&t, Status::Ok, json!({"n": 1, "s": "it's"}), json!({}));
    run.aggregate(&t, Status::Ok, 1);
    let t = run.task("Loop skip", "command");
    run.item(&t, Status::Skipped, json!(1), json!({"skipped": true}));
    run.item(&t, Status::Changed, json!(2), json!({}));
    run.aggregate(&t, Status::Changed, 2);
    let t = run.task("Loop skip all", "command");
    run.item(&t, Status::Skipped, json!(1), json!({"skipped": true}));
    run.item(&t, Status::Skipped, json!(2), json!({"skipped": true}));
    run.aggregate(&t, Status::Skipped, 2);
    let t = run.task("Fail ignored", "fail");
    run.result(
        &t,
        Status::Ignored,
        json!({"changed": false, "failed": true, "msg": "boom"}),
        None,
    );
    let t = run.task("Retry", "command");
    for left in [2, 1] {
        run.events.push(Event::Retry {
            host: "localhost".into(),
            task: t.clone(),
            retries_left: left,
            result: Map::new(),
        });
    }
    run.result(
        &t,
        Status::Ignored,
        command_result(1, json!({"attempts": 2})),
        None,
    );
    let t = run.task("Delegated", "command");
    run.events.push(Event::HostResult {
        host: "localhost".into(),
        task: t,
        status: Status::Changed,
        result: obj(json!({"changed": true})),
        item: None,
        delegated_to: Some("localhost".into()),
    });
    let t = run.task("Loop fail", "command");
    run.item(&t, Status::Changed, json!("true"), json!({}));
    run.item(
        &t,
        Status::Failed,
        json!("false"),
        command_result(1, json!({"delta": "0:00:00.003855", "end": "2026-11-25 21:42:31.398779", "start": "2026-11-25 21:42:31.394924"})),
    );
    run.result(&t, Status::Ignored, json!({"changed": true, "failed": true, "msg": "One or more items failed", "results": [{"ansible_loop_var": "item"}, {"ansible_loop_var": "item"}]}), None);
    let t = run.task("no log", "command");
    run.result(&t, Status::Ignored, json!({"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result", "changed": true, "failed": true, "_ansible_no_log": true}), None);
    let t = run.task("Warn", "debug");
    run.result(
        &t,
        Status::Ok,
        json!({"msg": "x", "_ansible_verbose_always": true}),
        None,
    );
    run.events.push(Event::PlayStart {
        name:
            "Second play with a much longer name that goes on and on to exceed eighty columns wide"
                .into(),
        pattern: "nothere".into(),
        uuid: "p2".into(),
    });
    run.events.push(Event::NoHostsMatched);
    run.events.push(Event::PlayStart {
        name: "Third".into(),
        pattern: "localhost".into(),
        uuid: "p3".into(),
    });
    let t = run.task("Stop MariaDB", "ansible.builtin.service");
    run.result(&t, Status::Failed, json!({"changed": false, "failed": true, "msg": "Could not find the requested service mariadb-nonexistent: host"}), None);
    run.events.push(Event::Stats {
        hosts: vec![(
            "localhost".into(),
            HostStats {
                ok: 12,
                changed: 6,
                unreachable: 0,
                failed: 1,
                skipped: 2,
                rescued: 0,
                ignored: 4,
            },
        )],
        custom: hook_runner::Map::new(),
    });
    run.events
}

#[test]
fn a_whole_run_prints_exactly_what_ansible_playbook_printed() {
    let mut renderer = Renderer::new(0);
    let text: String = events().iter().map(|e| renderer.render(e).stdout).collect();
    assert_eq!(text, EXPECTED);
}

#[test]
fn the_console_adds_the_failure_summary_after_the_recap() {
    use hook_runner::report::summary::SummaryCollector;
    let mut collector = SummaryCollector::default();
    for e in events() {
        collector.observe(&e);
    }
    let summary = collector.finish(2, None);
    assert_eq!(summary.failures.len(), 1);
    assert_eq!(
        summary.render_human(),
        "HOOK FAILED: task \"Stop MariaDB\" (pb.yml:45, ansible.builtin.service) on localhost in play \"Third\": Could not find the requested service mariadb-nonexistent: host\nhook-runner: exit code 2 (failed, 1 host(s) failed)\n"
    );
}
