//! Custom domains and where their certificates stand.

use ferry_model::{ChallengeMethod, CustomDomain, DomainName, DomainStatus, ServiceId, Timestamp};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::Db;
use crate::error::{Result, corrupt};

const COLUMNS: &str =
    "name, service_id, www, method, status, reason, not_after, renew_at, next_attempt, failures, created_at";

/// How an attempt to get a domain's certificate ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateOutcome {
    /// Served from now on until `not_after`; renewed from `renew_at`.
    Issued { not_after: Timestamp, renew_at: Timestamp },
    /// Failed for `reason`; asked again at `next_attempt`.
    Failed { reason: String, next_attempt: Timestamp },
}

impl Db {
    /// Adds a domain to a service; `false` if the name is taken already (by any service).
    pub fn insert_domain(&mut self, domain: &CustomDomain) -> Result<bool> {
        let inserted = self.conn.execute(
            "INSERT INTO custom_domains (name, service_id, www, method, status, reason, not_after, renew_at,
                                         next_attempt, failures, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (name) DO NOTHING",
            params![
                domain.name.as_str(),
                domain.service_id.as_str(),
                domain.www,
                domain.method.as_str(),
                domain.status.as_str(),
                domain.reason,
                domain.not_after.map(|t| t.0),
                domain.renew_at.map(|t| t.0),
                domain.next_attempt.map(|t| t.0),
                domain.failures,
                domain.created_at.0,
            ],
        )?;
        Ok(inserted > 0)
    }

    /// Adds a domain to its service unless a name it brings (itself, and its `www.` if asked for) routes
    /// somewhere already: that name then, and nothing is written. No name may route to two places, so
    /// the check and the insert are one transaction.
    pub fn claim_domain(&mut self, domain: &CustomDomain) -> Result<Option<DomainName>> {
        self.transaction(|db| {
            let taken: Vec<DomainName> = db.all_domains()?.iter().flat_map(CustomDomain::names).collect();
            if let Some(name) = domain.names().into_iter().find(|n| taken.contains(n)) {
                return Ok(Some(name));
            }
            db.insert_domain(domain).map(|ok| (!ok).then(|| domain.name.clone()))
        })
    }

    pub fn domain(&self, name: &DomainName) -> Result<Option<CustomDomain>> {
        let sql = format!("SELECT {COLUMNS} FROM custom_domains WHERE name = ?1");
        self.conn.query_row(&sql, [name.as_str()], |r| Ok(read(r))).optional()?.transpose()
    }

    /// A service's domains, by name.
    pub fn service_domains(&self, service: &ServiceId) -> Result<Vec<CustomDomain>> {
        let sql = format!("SELECT {COLUMNS} FROM custom_domains WHERE service_id = ?1 ORDER BY name");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows =
            stmt.query_map([service.as_str()], |r| Ok(read(r)))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().collect()
    }

    /// Every domain of every service, by name.
    pub fn all_domains(&self) -> Result<Vec<CustomDomain>> {
        let sql = format!("SELECT {COLUMNS} FROM custom_domains ORDER BY name");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| Ok(read(r)))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().collect()
    }

    /// Removes a service's domain; whether it had it.
    pub fn delete_domain(&mut self, service: &ServiceId, name: &DomainName) -> Result<bool> {
        let n = self.conn.execute(
            "DELETE FROM custom_domains WHERE service_id = ?1 AND name = ?2",
            params![service.as_str(), name.as_str()],
        )?;
        Ok(n > 0)
    }

    /// Records how an attempt to get `name`'s certificate ended. A domain removed meanwhile is left alone.
    pub fn record_certificate(&mut self, name: &DomainName, outcome: &CertificateOutcome) -> Result<()> {
        match outcome {
            CertificateOutcome::Issued { not_after, renew_at } => self.conn.execute(
                "UPDATE custom_domains SET status = ?2, reason = NULL, not_after = ?3, renew_at = ?4,
                        next_attempt = NULL, failures = 0 WHERE name = ?1",
                params![name.as_str(), DomainStatus::Active.as_str(), not_after.0, renew_at.0],
            )?,
            // A domain with a certificate still serves it: it stays ACTIVE, with the renewal's failure noted.
            CertificateOutcome::Failed { reason, next_attempt } => self.conn.execute(
                "UPDATE custom_domains SET
                        status = CASE WHEN not_after IS NOT NULL AND status = ?4 THEN status ELSE ?2 END,
                        reason = ?3, next_attempt = ?5, failures = failures + 1 WHERE name = ?1",
                params![
                    name.as_str(),
                    DomainStatus::CreateFailed.as_str(),
                    reason,
                    DomainStatus::Active.as_str(),
                    next_attempt.0
                ],
            )?,
        };
        Ok(())
    }
}

fn read(r: &Row<'_>) -> Result<CustomDomain> {
    let name: String = r.get(0)?;
    let service_id: String = r.get(1)?;
    let method: String = r.get(3)?;
    let status: String = r.get(4)?;
    Ok(CustomDomain {
        name: DomainName::parse(&name).map_err(|_| corrupt("domain name", &name))?,
        service_id: ServiceId::parse(&service_id).map_err(|_| corrupt("service id", &service_id))?,
        www: r.get(2)?,
        method: ChallengeMethod::parse(&method).map_err(|_| corrupt("challenge method", &method))?,
        status: DomainStatus::parse(&status).ok_or_else(|| corrupt("domain status", &status))?,
        reason: r.get(5)?,
        not_after: r.get::<_, Option<i64>>(6)?.map(Timestamp),
        renew_at: r.get::<_, Option<i64>>(7)?.map(Timestamp),
        next_attempt: r.get::<_, Option<i64>>(8)?.map(Timestamp),
        failures: r.get(9)?,
        created_at: Timestamp(r.get(10)?),
    })
}

#[cfg(test)]
mod tests {
    use ferry_model::{ImageRef, Service, ServiceName, ServiceSpec, ServiceStatus};

    use super::*;

    fn memory_db() -> Db {
        Db::in_memory().expect("in-memory database")
    }

    fn create_service(db: &mut Db, name: &str) -> ServiceId {
        let spec = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/web:v1").expect("valid"));
        let service = Service {
            id: ServiceId::generate(),
            name: ServiceName::parse(name).expect("valid"),
            status: ServiceStatus::Running,
            spec,
            active_revision: None,
            created_at: Timestamp(1),
            updated_at: Timestamp(1),
            deleted_at: None,
        };
        db.insert_service(&service).expect("insert service");
        service.id
    }

    fn domain(name: &str, service: &ServiceId) -> CustomDomain {
        CustomDomain {
            name: DomainName::parse(name).expect("valid"),
            service_id: service.clone(),
            www: false,
            method: ChallengeMethod::Http01,
            status: DomainStatus::PendingCertificateValidation,
            reason: None,
            not_after: None,
            renew_at: None,
            next_attempt: None,
            failures: 0,
            created_at: Timestamp(1),
        }
    }

    #[test]
    fn a_name_belongs_to_one_service_and_leaves_with_it() {
        let mut db = memory_db();
        let a = create_service(&mut db, "a");
        let b = create_service(&mut db, "b");
        assert!(db.insert_domain(&domain("app.example.com", &a)).expect("insert"));
        assert!(!db.insert_domain(&domain("app.example.com", &b)).expect("taken"), "one service per name");
        assert!(db.insert_domain(&domain("*.example.com", &a)).expect("wildcard"));
        let names: Vec<_> =
            db.service_domains(&a).expect("list").into_iter().map(|d| d.name.to_string()).collect();
        assert_eq!(names, ["*.example.com", "app.example.com"]);
        assert!(db.service_domains(&b).expect("list").is_empty());
        assert!(
            !db.delete_domain(&b, &DomainName::parse("app.example.com").expect("valid")).expect("not b's")
        );

        db.mark_deleted(&a, Timestamp(5)).expect("delete");
        assert!(db.all_domains().expect("all").is_empty(), "a deleted service's domains are free again");
        assert!(db.insert_domain(&domain("app.example.com", &b)).expect("free again"));
    }

    #[test]
    fn a_claim_is_refused_for_any_name_it_brings_that_routes_already() {
        let mut db = memory_db();
        let a = create_service(&mut db, "a");
        let b = create_service(&mut db, "b");
        let with_www = CustomDomain { www: true, ..domain("example.com", &a) };
        assert_eq!(db.claim_domain(&with_www).expect("claim"), None);
        let www = DomainName::parse("www.example.com").expect("valid");
        assert_eq!(db.claim_domain(&domain("www.example.com", &b)).expect("claim"), Some(www.clone()));
        assert_eq!(db.claim_domain(&domain("other.example", &b)).expect("claim"), None);
        let clash = CustomDomain { www: true, ..domain("example.com", &b) };
        assert_eq!(
            db.claim_domain(&clash).expect("claim"),
            Some(DomainName::parse("example.com").expect("valid"))
        );
        assert!(db.service_domains(&b).expect("list").iter().all(|d| d.name.as_str() == "other.example"));
    }

    #[test]
    fn outcomes_move_the_status() {
        let mut db = memory_db();
        let a = create_service(&mut db, "a");
        let name = DomainName::parse("app.example.com").expect("valid");
        db.insert_domain(&domain(name.as_str(), &a)).expect("insert");

        let failed =
            CertificateOutcome::Failed { reason: "connection refused".into(), next_attempt: Timestamp(60) };
        db.record_certificate(&name, &failed).expect("record");
        let d = db.domain(&name).expect("read").expect("there");
        assert_eq!(
            (d.status, d.failures, d.next_attempt),
            (DomainStatus::CreateFailed, 1, Some(Timestamp(60)))
        );
        assert_eq!(d.reason.as_deref(), Some("connection refused"));

        let issued = CertificateOutcome::Issued { not_after: Timestamp(900), renew_at: Timestamp(600) };
        db.record_certificate(&name, &issued).expect("record");
        let d = db.domain(&name).expect("read").expect("there");
        assert_eq!((d.status, d.failures, d.reason.as_deref()), (DomainStatus::Active, 0, None));
        assert_eq!(
            (d.not_after, d.renew_at, d.next_attempt),
            (Some(Timestamp(900)), Some(Timestamp(600)), None)
        );

        // A renewal that fails keeps serving the certificate it has: still ACTIVE, the failure noted.
        db.record_certificate(&name, &failed).expect("record");
        let d = db.domain(&name).expect("read").expect("there");
        assert_eq!((d.status, d.failures), (DomainStatus::Active, 1));
        assert_eq!(d.reason.as_deref(), Some("connection refused"));
    }
}
