//! Apostle's storage conformance suite: every [`Store`](apostle_core::Store)
//! and [`Tx`](apostle_core::Tx) method, checked once in [`suite`] and run on
//! each backend through [`conformance_tests!`], on fresh databases made by
//! [`harness`].

pub mod harness;
pub mod suite;

/// Expands to one `#[tokio::test]` per check in [`suite`], each on a fresh
/// database of the named [`harness::Backend`] variant. Used once per backend
/// (`tests/conformance.rs`), so every check exists as `sqlite::name` and
/// `postgres::name`. A new check is added to the list here.
#[macro_export]
macro_rules! conformance_tests {
    ($backend:ident) => {
        $crate::conformance_tests!(@each $backend:
            a_write_cut_at_any_await_leaves_the_pool_clean,
            a_post_keeps_its_content_and_moves_between_the_list_and_the_bin,
            planning_gives_each_recipient_one_moment_inside_the_slot,
            only_chosen_recipients_and_members_of_their_zone_are_planned,
            a_due_delivery_goes_out_once_and_notifies_unless_muted,
            deliveries_of_a_post_in_the_bin_wait_and_members_decide_only_their_own,
            an_inbox_page_holds_live_suggestions_newest_first_and_the_next_starts_after_it,
            a_shared_page_holds_what_a_member_shared_newest_first_and_the_next_starts_after_it,
            newest_posts_are_a_teams_own_out_of_the_bin_newest_first,
            posts_are_read_together_by_id_only_from_their_own_team,
            a_page_suggestion_is_answered_once_by_its_owner_or_by_admins_once_the_owner_left,
            members_settings_team_windows_links_images_and_presets_are_kept,
            personal_grants_not_heard_from_recently_are_found_for_a_probe,
            a_share_target_is_live_once_per_account_and_moves_only_from_its_states,
            the_apps_notifications_are_told_once_paged_newest_first_and_read_only_by_their_member,
            a_held_share_is_rescheduled_once_and_history_lists_a_members_shares_newest_first,
            a_read_cut_at_any_await_leaves_the_pool_clean,
            a_claim_cut_at_any_await_loses_no_job,
            a_job_result_cut_at_any_await_is_recorded_whole_or_not_at_all,
            team_is_found_by_slug_and_id,
            duplicate_team_slug_is_a_conflict,
            user_is_found_by_id_and_email,
            duplicate_user_email_is_a_conflict,
            user_name_and_password_hash_can_be_changed,
            timestamps_are_kept_to_the_microsecond,
            upsert_member_adds_then_changes_the_role,
            set_member_role_changes_only_existing_members,
            removed_member_is_gone_and_a_second_removal_says_so,
            members_are_listed_by_name_with_their_roles,
            the_last_admin_can_be_neither_demoted_nor_removed,
            racing_demotions_and_removals_leave_the_team_one_admin,
            teams_of_a_user_are_listed_by_name_with_roles,
            a_team_cannot_read_change_or_remove_another_teams_members,
            open_invites_are_found_by_token_and_listed_newest_first,
            an_invite_can_be_accepted_only_once,
            an_expired_invite_cannot_be_accepted,
            duplicate_invite_token_is_a_conflict,
            a_team_cannot_list_or_delete_another_teams_invites,
            a_password_reset_works_once_and_only_until_it_expires,
            a_new_password_reset_retires_the_users_earlier_link,
            a_session_signs_its_user_in_until_it_expires,
            a_page_context_is_a_live_sessions_with_its_membership_and_broken_connections_counted,
            sessions_are_deleted_singly_per_user_and_when_expired,
            an_api_token_is_found_with_its_owner_and_its_use_recorded_once_per_interval,
            a_revoked_api_token_no_longer_signs_in,
            a_user_cannot_revoke_or_list_another_users_token,
            revoking_all_tokens_of_a_user_spares_other_users,
            a_job_is_stored_with_its_payload,
            a_job_is_deduplicated_only_while_pending,
            due_jobs_are_claimed_by_run_at_then_id,
            a_job_due_in_the_future_is_not_claimed,
            completing_a_job_needs_its_current_lease,
            an_expired_lease_lets_another_worker_claim_and_fences_the_first,
            a_failed_job_with_retry_time_is_pending_again_then,
            a_failed_job_without_retry_is_dead_and_listed,
            a_released_job_is_pending_now_without_counting_the_attempt,
            a_dead_job_can_be_retried_with_fresh_attempts,
            a_retried_job_gives_way_to_a_pending_twin_with_its_key,
            jobs_are_listed_newest_first_up_to_the_limit,
            jobs_are_counted_by_state,
            a_dropped_transaction_discards_its_data_and_jobs_together,
            concurrent_workers_never_receive_the_same_job,
            a_renewed_lease_keeps_a_running_job_from_other_workers,
            finished_jobs_are_completed_together_each_only_with_its_lease,
            an_email_with_the_same_dedupe_key_is_stored_once,
            a_sent_email_records_when_it_went_out,
            email_failures_are_recorded_until_it_gives_up,
            emails_to_an_address_are_listed_newest_first,
            emails_are_counted_by_state,
            login_failures_are_listed_per_key_newest_first_after_a_time,
            forgetting_a_keys_login_failures_spares_other_keys,
            purging_login_failures_drops_those_up_to_a_time_whatever_their_key,
            a_grant_is_found_by_id_and_by_its_login_and_stored_once,
            new_tokens_are_stored_only_by_the_generation_they_were_read_at,
            a_refresh_without_a_refresh_token_keeps_the_stored_one,
            a_grant_breaks_only_once_and_heals_as_active_again,
            a_grant_is_removed_only_by_its_owner_never_claimed_then_and_comes_back_on_reconnect,
            due_active_unleased_grants_are_claimed_most_overdue_first_up_to_the_limit,
            a_grant_lease_is_released_and_renewed_only_with_its_token,
            a_grant_moved_to_a_later_due_time_is_claimed_only_then,
            concurrent_schedulers_never_claim_the_same_grant,
            a_token_sealed_for_its_row_reads_back_intact,
            accounts_are_listed_by_grant_by_user_and_by_team_in_connecting_order,
            the_same_account_twice_for_one_owner_is_a_conflict,
            an_account_breaks_on_its_own_once_and_recovers,
            a_business_page_moves_under_another_admins_grant,
            one_tenant_cannot_read_or_change_anothers_connections,
            an_oauth_flow_is_consumed_once_and_only_before_it_expires,
            a_grant_broken_for_an_action_at_the_provider_stays_due_for_the_probe_that_heals_it,
            a_flow_is_found_by_state_and_id_closed_once_kept_for_choosing_pages_and_purged,
            grants_are_found_by_login_and_accounts_listed_and_counted_by_health,
            one_grant_is_leased_on_request_unless_a_live_lease_or_removal_holds_it,
            a_teams_automatic_reminders_are_off_until_turned_on,
            connection_events_are_listed_per_grant_newest_first,
            a_teams_connection_events_are_its_pages_and_its_members_accounts_only,
            every_sealed_column_is_walked_by_row_id_in_batches_with_its_places_fields,
            a_resealed_value_is_written_only_over_the_value_that_was_read,
        );
    };
    (@each $backend:ident: $($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            $crate::harness::run($crate::harness::Backend::$backend, |db| {
                Box::pin(async move { $crate::suite::$check(&db).await })
            })
            .await;
        }
    )*};
}
