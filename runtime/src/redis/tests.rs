#![allow(clippy::unwrap_used)]

use super::cluster::parse_masters;
use super::*;

#[test]
fn one_url_is_one_redis_and_several_are_a_cluster() {
    assert_eq!(
        Target::parse("redis://127.0.0.1:6379").unwrap(),
        Target::Single("redis://127.0.0.1:6379".into())
    );
    assert_eq!(
        Target::parse("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001/").unwrap(),
        Target::Cluster(vec![
            "redis://:pw@10.0.0.1:7000/".into(),
            "redis://:pw@10.0.0.2:7001/".into()
        ])
    );
    assert_eq!(
        Target::parse("redis://a:1, redis://b:2").unwrap(),
        Target::Cluster(vec!["redis://a:1".into(), "redis://b:2".into()])
    );
    let nodes = "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460\n\
        9a1e 127.0.0.1:30004@40004 slave 07c3 0 1 4 connected\n\
        e5f2 127.0.0.1:30002@40002 master,fail - 0 1 2 disconnected 5461-10922\n\
        b0aa 127.0.0.1:30005@40005 master - 0 1 7 connected 5461-10922\n";
    let masters: Vec<(String, String, u16)> = parse_masters(nodes)
        .into_iter()
        .map(|m| (m.id, m.host, m.port))
        .collect();
    assert_eq!(
        masters,
        vec![
            ("07c3".into(), "127.0.0.1".into(), 30001),
            ("b0aa".into(), "127.0.0.1".into(), 30005)
        ]
    );
    for bad in [
        "redis+cluster://",
        "redis+cluster:///",
        "nonsense",
        "redis://a:1,oops",
    ] {
        assert!(Target::parse(bad).is_err(), "{bad}");
    }
}
