//! Suggestions to business pages wait for the page's owner: the admin who
//! connected it, or the current admins once that one is no longer an admin.
//! Auto Approve and an author who owns the page skip the wait.

use super::delivery::{access_of, team, Team};
use crate::helpers::runner;
use apostle_core::posts::PostInput;
use apostle_core::store::{AccountOwner, NewAccount, NewGrant};
use apostle_core::CoreError;
use apostle_domain::{AccountId, ApprovalState, PostId, Role, UserId};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap()
}

/// A Facebook page of team acme connected by `owner`.
async fn page(t: &Team, owner: UserId, name: &str) -> AccountId {
    let now = t.clock_now();
    let mut tx = t.core.store.begin().await.unwrap();
    let grant = tx
        .create_grant(
            owner,
            &NewGrant {
                provider: "facebook".to_owned(),
                external_user_id: format!("fb-{name}"),
                scopes: "pages_manage_posts".to_owned(),
                access_token: t.core.keyring.seal_text("token", "test"),
                refresh_token: None,
                access_expires_at: now + Duration::days(60),
                refresh_expires_at: None,
                next_due_at: now + Duration::days(1),
                created_at: now,
            },
        )
        .await
        .unwrap();
    let account = tx
        .create_account(
            AccountOwner::Business(t.ada.team.id),
            &NewAccount {
                grant_id: grant.id,
                provider: "facebook".to_owned(),
                external_id: format!("page-{name}"),
                name: name.to_owned(),
                page_token: None,
                created_at: now,
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    account.id
}

impl Team {
    fn clock_now(&self) -> DateTime<Utc> {
        apostle_core::Clock::now(&self.clock)
    }

    /// A post by `author` to `pages`, now.
    async fn page_post(&self, author: &str, pages: &[AccountId]) -> PostId {
        let access = access_of(self, author).await;
        self.core
            .create_post(
                &access,
                PostInput {
                    text: "Our new office opens today".to_owned(),
                    providers: vec!["facebook".to_owned()],
                    pages: pages.to_vec(),
                    ..PostInput::default()
                },
            )
            .await
            .expect("post")
            .id
    }

    async fn approval_state(&self, post: PostId) -> ApprovalState {
        let detail = self.core.post_detail(&self.ada, post).await.unwrap();
        detail.approvals[0].state
    }
}

/// Ada (admin, connects the page), Eve (a second admin), Amy (ambassador).
async fn crew() -> Team {
    let t = team(start(), &[("amy@acme.example", "UTC")]).await;
    t.core
        .add_user(
            "acme",
            "eve@acme.example",
            "Eve Editor",
            Role::Admin,
            "correct horse battery".to_owned().into(),
        )
        .await
        .unwrap();
    t
}

crate::on_both_backends!(
    a_page_suggestion_waits_for_its_owner_who_is_emailed_and_answers_once,
    auto_approve_and_an_author_who_owns_the_page_skip_the_wait,
    once_the_connecting_admin_is_no_longer_an_admin_the_current_admins_answer,
);

async fn a_page_suggestion_waits_for_its_owner_who_is_emailed_and_answers_once() {
    let t = crew().await;
    let fb = page(&t, t.ada.user.id, "Acme Coffee").await;
    let post = t.page_post("eve@acme.example", &[fb]).await;
    assert_eq!(t.approval_state(post).await, ApprovalState::Pending);
    runner(&t.core).run_pending().await.unwrap();
    let emails = t.notification_emails("ada@acme.example").await;
    assert_eq!(emails.len(), 1);
    assert_eq!(
        emails[0].subject,
        "A post for Acme Coffee waits for your approval"
    );
    let text = t.text(&emails[0]);
    assert!(text.contains("Approve: http"), "{text}");
    assert!(
        t.notification_emails("eve@acme.example").await.is_empty(),
        "the author is not the page's owner"
    );

    let eve = access_of(&t, "eve@acme.example").await;
    assert!(t.core.pending_approvals(&eve).await.unwrap().is_empty());
    let waiting = t.core.pending_approvals(&t.ada).await.unwrap();
    assert_eq!(waiting.len(), 1);
    let approval = waiting[0].approval.id;
    assert!(matches!(
        t.core.decide_approval(&eve, approval, true).await,
        Err(CoreError::Forbidden)
    ));
    let decided = t
        .core
        .decide_approval(&t.ada, approval, true)
        .await
        .unwrap();
    assert_eq!(decided.state, ApprovalState::Approved);
    assert_eq!(decided.decided_by, Some(t.ada.user.id));
    assert!(matches!(
        t.core.decide_approval(&t.ada, approval, false).await,
        Err(CoreError::Conflict(_))
    ));
    assert_eq!(t.approval_state(post).await, ApprovalState::Approved);
}

async fn auto_approve_and_an_author_who_owns_the_page_skip_the_wait() {
    let t = crew().await;
    let fb = page(&t, t.ada.user.id, "Acme Coffee").await;
    let own = t.page_post("ada@acme.example", &[fb]).await;
    assert_eq!(
        t.approval_state(own).await,
        ApprovalState::Approved,
        "Ada owns the page she posts to"
    );
    let eve = access_of(&t, "eve@acme.example").await;
    assert!(matches!(
        t.core.set_auto_approve(&eve, fb, true).await,
        Err(CoreError::Forbidden)
    ));
    t.core.set_auto_approve(&t.ada, fb, true).await.unwrap();
    let by_eve = t.page_post("eve@acme.example", &[fb]).await;
    assert_eq!(t.approval_state(by_eve).await, ApprovalState::Approved);
    runner(&t.core).run_pending().await.unwrap();
    assert!(
        t.notification_emails("ada@acme.example")
            .await
            .iter()
            .all(|e| !e.subject.contains("approval")),
        "nothing to approve, nothing asked"
    );
    t.core.set_auto_approve(&t.ada, fb, false).await.unwrap();
    let again = t.page_post("eve@acme.example", &[fb]).await;
    assert_eq!(t.approval_state(again).await, ApprovalState::Pending);
}

async fn once_the_connecting_admin_is_no_longer_an_admin_the_current_admins_answer() {
    let t = crew().await;
    let fb = page(&t, t.ada.user.id, "Acme Coffee").await;
    let eve = access_of(&t, "eve@acme.example").await;
    t.core
        .change_role(&eve, t.ada.user.id, Role::Ambassador)
        .await
        .unwrap();
    let post = t.page_post("eve@acme.example", &[fb]).await;
    assert_eq!(
        t.approval_state_as(&eve, post).await,
        ApprovalState::Approved,
        "Eve is now the page's owner, as the only admin"
    );
    let amy = access_of(&t, "amy@acme.example").await;
    assert!(matches!(
        t.core.create_post(&amy, PostInput::default()).await,
        Err(CoreError::Forbidden)
    ));
}

impl Team {
    async fn approval_state_as(
        &self,
        access: &apostle_core::teams::TeamAccess,
        post: PostId,
    ) -> ApprovalState {
        self.core.post_detail(access, post).await.unwrap().approvals[0].state
    }
}
