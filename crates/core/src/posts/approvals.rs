//! Suggestions to business pages wait for the page's owner: the admin who
//! connected the page, or any current admin once that one has left or is no
//! longer an admin. An owner can turn on Auto Approve for a page; an admin
//! sharing to a page they own needs no approval. An approved suggestion is
//! published to the page by the sharing engine at the post's moment.

use crate::error::{CoreError, CoreResult};
use crate::store::{Account, AccountOwner, Approval, ApprovalItem, ConnectionStatus, Tx};
use crate::teams::TeamAccess;
use crate::Core;
use apostle_domain::{AccountId, ApprovalId, ApprovalState, Role, TeamId, UserId};

/// Who answers for a page: its connecting admin while they are an admin of
/// the team, otherwise every current admin.
pub(crate) async fn page_owners(
    tx: &mut dyn Tx,
    team: TeamId,
    page: AccountId,
) -> CoreResult<Vec<UserId>> {
    let account = tx
        .account_by_id(page)
        .await?
        .ok_or(CoreError::NotFound("page"))?;
    if account.owner != AccountOwner::Business(team) {
        return Err(CoreError::NotFound("page"));
    }
    if let Some(grant) = tx.grant_by_id(account.grant_id).await? {
        if tx.member_role(team, grant.owner).await? == Some(Role::Admin) {
            return Ok(vec![grant.owner]);
        }
    }
    Ok(tx
        .list_members(team)
        .await?
        .into_iter()
        .filter(|m| m.role == Role::Admin)
        .map(|m| m.user.id)
        .collect())
}

impl Core {
    /// The suggestions to pages this member answers for, oldest first.
    pub async fn pending_approvals(&self, access: &TeamAccess) -> CoreResult<Vec<ApprovalItem>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.approvals_for(access.team.id, access.user.id).await?)
    }

    /// The team's pages this admin answers for, each with whether Auto
    /// Approve is on.
    pub async fn owned_pages(&self, access: &TeamAccess) -> CoreResult<Vec<(Account, bool)>> {
        access.require_admin()?;
        let mut tx = self.store.begin_read().await?;
        let mut out = Vec::new();
        for page in tx.business_accounts(access.team.id).await? {
            if page.status == ConnectionStatus::Removed
                || !page_owners(&mut *tx, access.team.id, page.id)
                    .await?
                    .contains(&access.user.id)
            {
                continue;
            }
            let auto = tx.auto_approve(access.team.id, page.id).await?;
            out.push((page, auto));
        }
        Ok(out)
    }

    /// Approves or declines a suggestion to a page the member answers for.
    pub async fn decide_approval(
        &self,
        access: &TeamAccess,
        approval: ApprovalId,
        approve: bool,
    ) -> CoreResult<Approval> {
        self.decide_approval_as(access.team.id, access.user.id, approval, approve)
            .await
    }

    async fn decide_approval_as(
        &self,
        team: TeamId,
        user: UserId,
        approval: ApprovalId,
        approve: bool,
    ) -> CoreResult<Approval> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let decided = self
            .decide_approval_in(&mut *tx, team, user, approval, approve, now)
            .await?;
        tx.commit().await?;
        Ok(decided)
    }

    pub(crate) async fn decide_approval_in(
        &self,
        tx: &mut dyn Tx,
        team: TeamId,
        user: UserId,
        approval: ApprovalId,
        approve: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> CoreResult<Approval> {
        let found = tx
            .approval_by_id(team, approval)
            .await?
            .ok_or(CoreError::NotFound("approval"))?;
        if !page_owners(tx, team, found.account_id)
            .await?
            .contains(&user)
        {
            return Err(CoreError::Forbidden);
        }
        let post = tx
            .post_by_id(team, found.post_id)
            .await?
            .ok_or(CoreError::NotFound("post"))?;
        if !post.is_live(now) {
            return Err(CoreError::LinkClosed(
                "This post can no longer be shared: it expired, was archived or deleted.",
            ));
        }
        let to = if approve {
            ApprovalState::Approved
        } else {
            ApprovalState::Rejected
        };
        if !tx.decide_approval(team, approval, to, user, now).await? {
            return Err(CoreError::Conflict("this suggestion was already answered"));
        }
        let decided = tx
            .approval_by_id(team, approval)
            .await?
            .ok_or(CoreError::NotFound("approval"))?;
        if approve {
            self.queue_page_publish(tx, &post, &decided, user, now)
                .await?;
        }
        tracing::info!(approval = approval.0, ?to, "page suggestion answered");
        Ok(decided)
    }

    /// Turns Auto Approve on or off for a page the member owns.
    pub async fn set_auto_approve(
        &self,
        access: &TeamAccess,
        page: AccountId,
        on: bool,
    ) -> CoreResult<()> {
        access.require_admin()?;
        let mut tx = self.store.begin().await?;
        if !page_owners(&mut *tx, access.team.id, page)
            .await?
            .contains(&access.user.id)
        {
            return Err(CoreError::Forbidden);
        }
        if !tx.set_auto_approve(access.team.id, page, on).await? {
            return Err(CoreError::NotFound("page"));
        }
        tx.commit().await?;
        Ok(())
    }
}
