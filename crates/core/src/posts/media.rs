//! What a post carries besides its text: images, stored by Apostle and
//! served at a public URL (Instagram fetches the image from there), and the
//! team's saved UTM presets.

use crate::error::{CoreError, CoreResult};
use crate::secrets::random_token;
use crate::store::{Image, Tx, UtmPreset};
use crate::teams::TeamAccess;
use crate::Core;
use apostle_domain::{ImageId, InvalidValue, Utm, UtmPresetId};

/// The largest image accepted (Instagram takes up to 8 MB; LinkedIn and X
/// less): 5 MiB.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;

/// The image type its first bytes show: JPEG, PNG, GIF or WebP.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn invalid(field: &'static str, reason: &'static str) -> CoreError {
    CoreError::Invalid(InvalidValue { field, reason })
}

impl Core {
    /// Stores an image for the team's posts (admins). Its type is read from
    /// its bytes, whatever the upload claimed.
    pub async fn store_image(&self, access: &TeamAccess, bytes: &[u8]) -> CoreResult<Image> {
        access.require_admin()?;
        if bytes.is_empty() {
            return Err(invalid("image", "is empty"));
        }
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(invalid("image", "is larger than 5 MB"));
        }
        let content_type = sniff_image(bytes)
            .ok_or_else(|| invalid("image", "must be a JPEG, PNG, GIF or WebP"))?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let image = tx
            .insert_image(access.team.id, &random_token(), content_type, bytes, now)
            .await?;
        tx.commit().await?;
        Ok(image)
    }

    /// An image by the name in its public URL.
    pub async fn public_image(&self, public_id: &str) -> CoreResult<Image> {
        let mut tx = self.store.begin_read().await?;
        tx.image_by_public_id(public_id)
            .await?
            .ok_or(CoreError::NotFound("image"))
    }

    pub async fn utm_presets(&self, access: &TeamAccess) -> CoreResult<Vec<UtmPreset>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.utm_presets(access.team.id).await?)
    }

    /// Saves (or replaces) a named UTM preset (admins).
    pub async fn save_utm_preset(
        &self,
        access: &TeamAccess,
        name: &str,
        utm: Utm,
    ) -> CoreResult<UtmPreset> {
        access.require_admin()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(invalid("name", "must be 1 to 80 characters"));
        }
        let utm = utm.normalized()?;
        if utm.is_empty() {
            return Err(invalid("utm", "set at least one parameter"));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let preset = tx.save_utm_preset(access.team.id, name, &utm, now).await?;
        tx.commit().await?;
        Ok(preset)
    }

    pub async fn delete_utm_preset(
        &self,
        access: &TeamAccess,
        preset: UtmPresetId,
    ) -> CoreResult<()> {
        access.require_admin()?;
        let mut tx = self.store.begin().await?;
        if !tx.delete_utm_preset(access.team.id, preset).await? {
            return Err(CoreError::NotFound("preset"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The public URL of an image (what Instagram is given to fetch), served
    /// by the unguessable name it was stored under.
    pub fn image_url(&self, public_id: &str) -> String {
        self.settings.link(&format!("/media/{public_id}"))
    }

    /// The public URLs of the team's images among `images`; ids of other
    /// teams' images are left out.
    pub async fn image_urls(
        &self,
        access: &TeamAccess,
        images: &[ImageId],
    ) -> CoreResult<std::collections::BTreeMap<ImageId, String>> {
        // Most lists have no image: no transaction for them.
        if images.is_empty() {
            return Ok(std::collections::BTreeMap::new());
        }
        let mut tx = self.store.begin_read().await?;
        self.image_urls_in(&mut *tx, access, images).await
    }

    /// [`image_urls`](Self::image_urls) in the caller's transaction.
    pub(crate) async fn image_urls_in(
        &self,
        tx: &mut dyn Tx,
        access: &TeamAccess,
        images: &[ImageId],
    ) -> CoreResult<std::collections::BTreeMap<ImageId, String>> {
        let mut urls = std::collections::BTreeMap::new();
        for &id in images {
            if urls.contains_key(&id) {
                continue;
            }
            if let Some(public_id) = tx.image_public_id(access.team.id, id).await? {
                urls.insert(id, self.image_url(&public_id));
            }
        }
        Ok(urls)
    }
}

#[cfg(test)]
mod tests {
    use super::sniff_image;

    #[test]
    fn images_are_known_by_their_first_bytes_not_their_name() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff_image(b""), None);
    }
}
