//! Stopping: the app stops when asked, and SIGTERM hands a job that is
//! still running back to the queue so another process takes it at once.

use crate::helpers::{
    admin_of_new_team, silent_server, spawn_app, system_clock, wait_for_connection, Running, TestDb,
};
use apostle_core::store::{EmailState, JobState};
use apostle_domain::{EmailAddress, Role};

crate::on_both_backends!(
    a_stopped_app_finishes_cleanly_and_accepts_no_more_connections,
    sigterm_stops_serve_with_exit_code_0_and_releases_the_job_it_was_running,
);

async fn a_stopped_app_finishes_cleanly_and_accepts_no_more_connections() {
    let app = spawn_app().await;
    let address = app.address;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await.expect("the app stops without error");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "the listener is closed"
    );
}

async fn sigterm_stops_serve_with_exit_code_0_and_releases_the_job_it_was_running() {
    let db = TestDb::new().await;
    let (port, connections) = silent_server();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let core = db
        .core(&[("APOSTLE_SMTP_URL", &smtp_url)], system_clock())
        .await;
    let admin = admin_of_new_team(&core).await;
    core.invite(&admin, "newbie@acme.example", "Newbie", Role::Ambassador)
        .await
        .unwrap();
    let mut tx = core.store.begin_read().await.unwrap();
    let job = tx.list_jobs(JobState::Pending, 10).await.unwrap().remove(0);
    drop(tx);

    let mut serve = db.apostle(&["serve"]);
    serve
        .env("APOSTLE_SMTP_URL", &smtp_url)
        .env("APOSTLE_JOBS__SHUTDOWN_GRACE_SECS", "1");
    let mut server = Running::start(serve);
    // The mail server never answers, so the job stays in flight.
    let _held_open = wait_for_connection(&connections);

    let status = server.terminate();
    assert!(status.success(), "apostle exits 0 on SIGTERM: {status}");

    let mut tx = core.store.begin_read().await.unwrap();
    let released = tx
        .job_by_id(job.id)
        .await
        .unwrap()
        .expect("the job is kept");
    assert_eq!(
        released.state,
        JobState::Pending,
        "handed back to the queue"
    );
    assert_eq!(
        released.attempts, 0,
        "the interrupted attempt is not counted"
    );
    let emails = tx
        .emails_to(&EmailAddress::parse("newbie@acme.example").unwrap())
        .await
        .unwrap();
    assert_eq!(
        emails[0].state,
        EmailState::Queued,
        "the invite is still to be sent"
    );
}
