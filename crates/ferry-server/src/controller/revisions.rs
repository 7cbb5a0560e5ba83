//! A controller's cache of its service's revisions (they never change once written, but what their
//! image became on the engine does, so one without an image is read again).

use std::collections::HashMap;

use ferry_model::{Revision, ServiceId};
use ferry_store::{Store, StoreError};

pub(crate) struct Revisions {
    service: ServiceId,
    store: Store,
    cache: HashMap<u32, Revision>,
}

impl Revisions {
    pub(crate) fn new(service: ServiceId, store: Store) -> Self {
        Self { service, store, cache: HashMap::new() }
    }

    /// Revision `number`, from the cache when its image is known, else from the store.
    pub(crate) async fn get(&mut self, number: u32) -> Result<Option<Revision>, StoreError> {
        if let Some(r) = self.cache.get(&number).filter(|r| r.image_id.is_some()) {
            return Ok(Some(r.clone()));
        }
        let id = self.service.clone();
        let found = self.store.call(move |db| db.revision(&id, number)).await?;
        if let Some(r) = &found {
            self.cache.insert(number, r.clone());
        }
        Ok(found)
    }

    /// Revision `number` if it was read before.
    pub(crate) fn cached(&self, number: u32) -> Option<&Revision> {
        self.cache.get(&number)
    }

    /// Remembers what a pull or a build made of a revision.
    pub(crate) fn put(&mut self, revision: Revision) {
        self.cache.insert(revision.number, revision);
    }
}
