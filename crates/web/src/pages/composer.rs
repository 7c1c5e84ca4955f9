//! The composer, for admins: a post's text with a count per provider, its X
//! and LinkedIn variants, a link with its UTM parameters and the team's
//! presets, an image, the providers, the recipients, the business pages, the
//! timing and the expiry; saved as a draft or scheduled. The form is
//! multipart because of the image. It works without JavaScript (the script
//! only counts as you type and fills a chosen preset): every other button
//! comes back to the server, and a mistake brings the form back filled, with
//! the message and the counts.

use super::posts::{admin_access, admin_form, post_path, provider_name};
use super::{page, redirect_with, Chrome};
use crate::error::PageError;
use crate::session::{Flash, Notice, SignedIn};
use crate::AppState;
use apostle_core::connections::ConnectionFilter;
use apostle_core::posts::media::MAX_IMAGE_BYTES;
use apostle_core::posts::{PostInput, PROVIDERS};
use apostle_core::store::{AccountKind, Post};
use apostle_core::teams::TeamAccess;
use apostle_core::CoreError;
use apostle_domain::posts::{counted_length, local_to_utc, parse_link, text_limit};
use apostle_domain::{
    AccountId, DeliveryWindow, ImageId, InvalidValue, PostId, PostStatus, Schedule, TimeZoneName,
    UserId, Utm, UtmPresetId,
};
use askama::Template;
use axum::body::Bytes;
use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, NaiveDate, NaiveTime};
use std::collections::BTreeMap;

/// The largest composer form: the largest image accepted, with room for the
/// other fields.
pub const UPLOAD_LIMIT: usize = MAX_IMAGE_BYTES + 512 * 1024;

/// The composer's fields as written, kept as text so that a form with a
/// mistake comes back exactly as it was sent.
struct ComposerForm {
    csrf: String,
    /// Which button was pressed: `draft`, `schedule`, `use_preset` or
    /// `save_preset`.
    intent: String,
    text: String,
    variant_x: String,
    variant_linkedin: String,
    link: String,
    link_title: String,
    utm_source: String,
    utm_medium: String,
    utm_campaign: String,
    utm_term: String,
    utm_content: String,
    preset: String,
    preset_name: String,
    /// An image stored by an earlier submission of this form.
    image_id: Option<i64>,
    remove_image: bool,
    providers: Vec<String>,
    /// `all` (the whole team) or `chosen`.
    recipients: String,
    members: Vec<i64>,
    pages: Vec<i64>,
    /// `now`, `at` or `days`.
    timing: String,
    at_date: String,
    at_time: String,
    days_start: String,
    days_count: String,
    skip_weekends: bool,
    expires_on: String,
}

impl Default for ComposerForm {
    /// A new post: LinkedIn and X, the whole team, now.
    fn default() -> Self {
        ComposerForm {
            csrf: String::new(),
            intent: String::new(),
            text: String::new(),
            variant_x: String::new(),
            variant_linkedin: String::new(),
            link: String::new(),
            link_title: String::new(),
            utm_source: String::new(),
            utm_medium: String::new(),
            utm_campaign: String::new(),
            utm_term: String::new(),
            utm_content: String::new(),
            preset: String::new(),
            preset_name: String::new(),
            image_id: None,
            remove_image: false,
            providers: vec!["linkedin".to_owned(), "x".to_owned()],
            recipients: "all".to_owned(),
            members: Vec::new(),
            pages: Vec::new(),
            timing: "now".to_owned(),
            at_date: String::new(),
            at_time: "09:00".to_owned(),
            days_start: String::new(),
            days_count: "5".to_owned(),
            skip_weekends: true,
            expires_on: String::new(),
        }
    }
}

fn invalid(field: &'static str, reason: &'static str) -> CoreError {
    CoreError::Invalid(InvalidValue { field, reason })
}

/// A date from a date field (`YYYY-MM-DD`).
fn date(raw: &str, field: &'static str) -> Result<NaiveDate, CoreError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| invalid(field, "choose a date"))
}

impl ComposerForm {
    /// A form holding no field yet: check boxes arrive only when ticked.
    fn empty() -> Self {
        ComposerForm {
            providers: Vec::new(),
            skip_weekends: false,
            ..ComposerForm::default()
        }
    }

    fn set(&mut self, name: &str, value: String) {
        let id = || value.trim().parse::<i64>().ok();
        match name {
            "csrf" => self.csrf = value,
            "intent" => self.intent = value,
            "text" => self.text = value,
            "variant_x" => self.variant_x = value,
            "variant_linkedin" => self.variant_linkedin = value,
            "link" => self.link = value,
            "link_title" => self.link_title = value,
            "utm_source" => self.utm_source = value,
            "utm_medium" => self.utm_medium = value,
            "utm_campaign" => self.utm_campaign = value,
            "utm_term" => self.utm_term = value,
            "utm_content" => self.utm_content = value,
            "preset" => self.preset = value,
            "preset_name" => self.preset_name = value,
            "image_id" => self.image_id = id(),
            "remove_image" => self.remove_image = true,
            "provider" => self.providers.push(value),
            "recipients" => self.recipients = value,
            "member" => self.members.extend(id()),
            "page" => self.pages.extend(id()),
            "timing" => self.timing = value,
            "at_date" => self.at_date = value,
            "at_time" => self.at_time = value,
            "days_start" => self.days_start = value,
            "days_count" => self.days_count = value,
            "skip_weekends" => self.skip_weekends = true,
            "expires_on" => self.expires_on = value,
            _ => {}
        }
    }

    /// A stored post in the form, to edit it. `tz` is the admin's: the
    /// expiry is shown as a day there.
    fn of_post(post: &Post, recipients: &[UserId], pages: &[AccountId], tz: &TimeZoneName) -> Self {
        let c = &post.content;
        let variant = |p: &str| c.variants.get(p).cloned().unwrap_or_default();
        let utm = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut form = ComposerForm {
            text: c.text.clone(),
            variant_x: variant("x"),
            variant_linkedin: variant("linkedin"),
            link: c.link.clone().unwrap_or_default(),
            link_title: c.link_title.clone().unwrap_or_default(),
            utm_source: utm(&c.utm.source),
            utm_medium: utm(&c.utm.medium),
            utm_campaign: utm(&c.utm.campaign),
            utm_term: utm(&c.utm.term),
            utm_content: utm(&c.utm.content),
            image_id: c.image_id.map(|i| i.0),
            providers: c.providers.clone(),
            recipients: if c.recipients_all { "all" } else { "chosen" }.to_owned(),
            members: recipients.iter().map(|u| u.0).collect(),
            pages: pages.iter().map(|a| a.0).collect(),
            // The expiry is kept as the last moment of a day in the admin's
            // time zone, the day the form shows.
            expires_on: (c.expires_at - Duration::seconds(1))
                .with_timezone(&tz.tz())
                .date_naive()
                .to_string(),
            ..ComposerForm::empty()
        };
        match &c.schedule {
            Schedule::Now => form.timing = "now".to_owned(),
            Schedule::At { date, time } => {
                form.timing = "at".to_owned();
                form.at_date = date.to_string();
                form.at_time = time.format("%H:%M").to_string();
            }
            Schedule::Days {
                days,
                skip_weekends,
            } => {
                form.timing = "days".to_owned();
                let (first, last) = (days.iter().min(), days.iter().max());
                if let (Some(first), Some(last)) = (first, last) {
                    form.days_start = first.to_string();
                    form.days_count = ((*last - *first).num_days() + 1).to_string();
                }
                form.skip_weekends = *skip_weekends;
            }
        }
        form
    }

    fn utm(&self) -> Utm {
        let some = |v: &str| Some(v.to_owned());
        Utm {
            source: some(&self.utm_source),
            medium: some(&self.utm_medium),
            campaign: some(&self.utm_campaign),
            term: some(&self.utm_term),
            content: some(&self.utm_content),
        }
    }

    fn fill_utm(&mut self, utm: &Utm) {
        let v = |v: &Option<String>| v.clone().unwrap_or_default();
        self.utm_source = v(&utm.source);
        self.utm_medium = v(&utm.medium);
        self.utm_campaign = v(&utm.campaign);
        self.utm_term = v(&utm.term);
        self.utm_content = v(&utm.content);
    }

    fn variants(&self) -> BTreeMap<String, String> {
        [("x", &self.variant_x), ("linkedin", &self.variant_linkedin)]
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(p, v)| (p.to_owned(), v.clone()))
            .collect()
    }

    fn schedule(&self) -> Result<Schedule, CoreError> {
        match self.timing.as_str() {
            "at" => {
                let time = NaiveTime::parse_from_str(self.at_time.trim(), "%H:%M")
                    .map_err(|_| invalid("time", "choose a time"))?;
                Ok(Schedule::At {
                    date: date(&self.at_date, "date")?,
                    time,
                })
            }
            "days" => {
                let start = date(&self.days_start, "first day")?;
                let count: i64 = self
                    .days_count
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (1..=31).contains(n))
                    .ok_or_else(|| invalid("number of days", "must be 1 to 31"))?;
                Ok(Schedule::Days {
                    days: (0..count).map(|i| start + Duration::days(i)).collect(),
                    skip_weekends: self.skip_weekends,
                })
            }
            _ => Ok(Schedule::Now),
        }
    }

    /// What the services take; `tz` is the admin's, where the expiry day
    /// ends.
    fn input(&self, tz: &TimeZoneName, draft: bool) -> Result<PostInput, CoreError> {
        let expires_at = match self.expires_on.trim() {
            "" => None,
            day => {
                let next = date(day, "expiry")? + Duration::days(1);
                Some(local_to_utc(tz.tz(), next.and_time(NaiveTime::MIN)))
            }
        };
        let text = |v: &str| Some(v.to_owned()).filter(|v| !v.trim().is_empty());
        Ok(PostInput {
            text: self.text.clone(),
            variants: self.variants(),
            link: text(&self.link),
            link_title: text(&self.link_title),
            utm: self.utm(),
            image: self.image_id.map(ImageId),
            providers: self.providers.clone(),
            recipients: (self.recipients == "chosen")
                .then(|| self.members.iter().copied().map(UserId).collect()),
            pages: self.pages.iter().copied().map(AccountId).collect(),
            schedule: Some(self.schedule()?),
            expires_at,
            draft,
        })
    }
}

/// One check box.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// A preset in the list; its values fill the fields when chosen.
pub struct PresetOption {
    pub id: i64,
    pub name: String,
    pub selected: bool,
    pub utm: Utm,
}

/// How long the text counts at a provider, against its limit.
pub struct Count {
    pub provider: &'static str,
    pub label: &'static str,
    pub limit: usize,
    pub n: usize,
    pub over: bool,
    /// Counted only for the providers ticked.
    pub shown: bool,
}

fn counts(form: &ComposerForm) -> Vec<Count> {
    let link = match form.link.trim() {
        "" => None,
        raw => Some(parse_link(raw).map_or_else(|_| raw.to_owned(), |u| u.to_string())),
    };
    let variants = form.variants();
    PROVIDERS
        .iter()
        .filter_map(|p| {
            let limit = text_limit(p)?;
            let body = variants.get(*p).unwrap_or(&form.text).trim();
            let n = counted_length(p, body, link.as_deref());
            Some(Count {
                provider: p,
                label: provider_name(p),
                limit,
                n,
                over: n > limit,
                shown: form.providers.iter().any(|c| c == p),
            })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "composer.html")]
struct ComposerPage {
    chrome: Chrome,
    /// Where the form posts.
    action: String,
    editing: bool,
    form: ComposerForm,
    providers: Vec<Choice>,
    members: Vec<Choice>,
    pages: Vec<Choice>,
    presets: Vec<PresetOption>,
    counts: Vec<Count>,
    image_url: Option<String>,
    window: String,
}

async fn render(
    state: &AppState,
    me: &SignedIn,
    access: &TeamAccess,
    chrome: Chrome,
    status: StatusCode,
    editing: Option<PostId>,
    form: ComposerForm,
) -> Result<Response, PageError> {
    let slug = access.team.slug.as_str();
    let shown = chrome.notice.is_some();
    let providers = PROVIDERS
        .iter()
        .map(|p| Choice {
            value: (*p).to_owned(),
            label: provider_name(p).to_owned(),
            checked: form.providers.iter().any(|c| c == p),
        })
        .collect();
    let members = state
        .core
        .members(access)
        .await?
        .into_iter()
        .map(|m| Choice {
            value: m.user.id.0.to_string(),
            label: m.user.name.to_string(),
            checked: form.members.contains(&m.user.id.0),
        })
        .collect();
    let business = ConnectionFilter {
        kind: Some(AccountKind::Business),
        ..Default::default()
    };
    let pages = state
        .core
        .list_connections(me.user.id, &business)
        .await?
        .into_iter()
        .filter(|c| c.team.as_ref().is_some_and(|(s, _)| s.as_str() == slug))
        .map(|c| Choice {
            value: c.id.0.to_string(),
            label: format!("{} ({})", c.name, c.provider.display_name()),
            checked: form.pages.contains(&c.id.0),
        })
        .collect();
    let presets = state
        .core
        .utm_presets(access)
        .await?
        .into_iter()
        .map(|p| PresetOption {
            selected: form.preset == p.id.0.to_string(),
            id: p.id.0,
            name: p.name,
            utm: p.utm,
        })
        .collect();
    let image = form.image_id.map(ImageId);
    let image_url = state
        .core
        .image_urls(access, image.as_slice())
        .await?
        .into_values()
        .next();
    let window = state.core.delivery_window(access).await?;
    let html = ComposerPage {
        chrome,
        action: match editing {
            Some(post) => format!("{}/edit", post_path(slug, post)),
            None => format!("/t/{slug}/posts/new"),
        },
        editing: editing.is_some(),
        counts: counts(&form),
        form,
        providers,
        members,
        pages,
        presets,
        image_url,
        window: format!(
            "{}–{}",
            DeliveryWindow::clock(window.start_minute),
            DeliveryWindow::clock(window.end_minute)
        ),
    }
    .render()?;
    Ok(page(status, html, state, shown))
}

/// The admin's time zone, where the expiry day ends.
async fn admin_tz(state: &AppState, user: UserId) -> Result<TimeZoneName, PageError> {
    match state.core.member_settings(user).await {
        Ok(s) => Ok(TimeZoneName::parse(&s.time_zone).unwrap_or_else(|_| TimeZoneName::utc())),
        Err(CoreError::NotFound(_)) => Ok(TimeZoneName::utc()),
        Err(e) => Err(e.into()),
    }
}

/// `GET /t/{slug}/posts/new`: an empty composer.
pub async fn new_page(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = admin_access(&state, &me, &slug).await?;
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let form = ComposerForm::default();
    render(&state, &me, &access, chrome, StatusCode::OK, None, form).await
}

/// `GET /t/{slug}/posts/{id}/edit`: a draft in the composer; a post that
/// went out already is shown instead.
pub async fn edit_page(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<Response, PageError> {
    let access = admin_access(&state, &me, &slug).await?;
    let detail = state.core.post_detail(&access, PostId(id)).await?;
    if detail.post.status != PostStatus::Draft {
        return Ok(redirect_with(
            &state,
            &post_path(&slug, detail.post.id),
            false,
            "Only a draft can be edited; this post went out already.",
        ));
    }
    let tz = admin_tz(&state, me.user.id).await?;
    let pages: Vec<AccountId> = detail.pages.iter().map(|p| p.id).collect();
    let form = ComposerForm::of_post(&detail.post, &detail.recipients, &pages, &tz);
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let editing = Some(detail.post.id);
    render(&state, &me, &access, chrome, StatusCode::OK, editing, form).await
}

pub async fn create(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    submit(state, me, slug, None, multipart).await
}

pub async fn update(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, id)): Path<(String, i64)>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    submit(state, me, slug, Some(PostId(id)), multipart).await
}

fn unreadable(e: &MultipartError) -> PageError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        PageError::BadForm(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The image is larger than 5 MB.".to_owned(),
        )
    } else {
        PageError::BadForm(
            StatusCode::BAD_REQUEST,
            "The form could not be read: a field is missing or is not valid UTF-8 text.".to_owned(),
        )
    }
}

/// The fields, and the bytes of an image chosen in this submission.
async fn read(mut multipart: Multipart) -> Result<(ComposerForm, Option<Bytes>), PageError> {
    let mut form = ComposerForm::empty();
    let mut image = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| unreadable(&e))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "image" {
            let bytes = field.bytes().await.map_err(|e| unreadable(&e))?;
            image = Some(bytes).filter(|b| !b.is_empty());
        } else {
            let value = field.text().await.map_err(|e| unreadable(&e))?;
            form.set(&name, value);
        }
    }
    Ok((form, image))
}

/// What a submission came to.
enum Outcome {
    /// Saved: the post, and whether it is a draft.
    Saved(PostId, bool),
    /// Back to the composer with a notice (a preset used or saved).
    Again(String),
}

async fn act(
    state: &AppState,
    access: &TeamAccess,
    editing: Option<PostId>,
    form: &mut ComposerForm,
    image: Option<Bytes>,
    tz: &TimeZoneName,
) -> Result<Outcome, CoreError> {
    if form.remove_image {
        form.image_id = None;
        form.remove_image = false;
    }
    if let Some(bytes) = image {
        form.image_id = Some(state.core.store_image(access, &bytes).await?.id.0);
    }
    match form.intent.as_str() {
        "use_preset" => {
            let chosen = form.preset.trim().parse().ok().map(UtmPresetId);
            let preset = state
                .core
                .utm_presets(access)
                .await?
                .into_iter()
                .find(|p| Some(p.id) == chosen)
                .ok_or_else(|| invalid("preset", "choose one of the team's presets"))?;
            form.fill_utm(&preset.utm);
            Ok(Outcome::Again(format!("Preset “{}” applied.", preset.name)))
        }
        "save_preset" => {
            let preset = state
                .core
                .save_utm_preset(access, &form.preset_name, form.utm())
                .await?;
            form.preset = preset.id.0.to_string();
            form.preset_name.clear();
            Ok(Outcome::Again(format!(
                "Preset “{}” saved for the team.",
                preset.name
            )))
        }
        intent => {
            let input = form.input(tz, intent != "schedule")?;
            let post = match editing {
                Some(post) => state.core.update_draft(access, post, input).await?,
                None => state.core.create_post(access, input).await?,
            };
            Ok(Outcome::Saved(post.id, post.status == PostStatus::Draft))
        }
    }
}

async fn submit(
    state: AppState,
    me: SignedIn,
    slug: String,
    editing: Option<PostId>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (mut form, image) = read(multipart).await?;
    let access = admin_form(&state, &me, &slug, &form.csrf).await?;
    let tz = admin_tz(&state, me.user.id).await?;
    let (status, notice) = match act(&state, &access, editing, &mut form, image, &tz).await {
        Ok(Outcome::Saved(post, draft)) => {
            let said = if draft {
                "The draft is saved."
            } else {
                "The post is scheduled."
            };
            let to = post_path(access.team.slug.as_str(), post);
            return Ok(redirect_with(&state, &to, true, said));
        }
        Ok(Outcome::Again(said)) => (
            StatusCode::OK,
            Notice {
                ok: true,
                text: said,
            },
        ),
        Err(e @ (CoreError::Store(_) | CoreError::Internal(_) | CoreError::Forbidden)) => {
            return Err(e.into())
        }
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Notice {
                ok: false,
                text: super::capitalised(&e.to_string()),
            },
        ),
    };
    let mut chrome = Chrome::load(&state, &me, &access, Flash(None)).await?;
    chrome.notice = Some(notice);
    render(&state, &me, &access, chrome, status, editing, form).await
}
