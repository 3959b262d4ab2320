//! `retries`/`until` meeting `failed_when`, through the engine and the local connection, as
//! ansible-core 2.18's `until` integration target expects.

use crate::engine_common;
use engine_common::*;
use hook_runner::report::Status;
use serde_json::json;

#[tokio::test]
async fn failed_when_decides_an_exhausted_until() {
    // The `until` is never met, but `failed_when` says the task did not fail: it is ok,
    // though its result says `failed` (as ansible-core's does).
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: never met
      shell: 'true'
      register: r
      until: 1 == 0
      retries: 2
      delay: 0
      failed_when: r.attempts > 6
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (status, r) = out.result("never met", "localhost");
    assert_eq!(status, Status::Changed);
    assert_eq!(r["failed"], json!(true));
    assert_eq!(r["failed_when_result"], json!(false));
    assert_eq!(r["attempts"], json!(2));
}

#[tokio::test]
async fn retries_without_until_count_attempts() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: always fails
      command: 'false'
      register: r
      retries: 3
      delay: 0
      ignore_errors: true
    - name: succeeds
      command: 'true'
      register: s
      retries: 3
      delay: 0
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (status, r) = out.result("always fails", "localhost");
    assert_eq!(status, Status::Ignored);
    // Exhausted: the retries, as ansible-core reports them.
    assert_eq!(r["attempts"], json!(3));
    let (_, s) = out.result("succeeds", "localhost");
    assert_eq!(s["attempts"], json!(1));
}
