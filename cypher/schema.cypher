// name: schema
// mode: schema (one statement per line-terminated ';', run one by one, idempotent)
// params: none
// returns: nothing
// The one place for schema DDL. Neo4j 5 syntax; ArcadeDB (the test server) accepts it as is.
CREATE CONSTRAINT institution_id IF NOT EXISTS FOR (n:Institution) REQUIRE n.institutionId IS UNIQUE;
CREATE CONSTRAINT pharmacy_id IF NOT EXISTS FOR (n:Pharmacy) REQUIRE n.pharmacyId IS UNIQUE;
CREATE CONSTRAINT doctor_id IF NOT EXISTS FOR (n:Doctor) REQUIRE n.doctorId IS UNIQUE;
CREATE CONSTRAINT patient_id IF NOT EXISTS FOR (n:Patient) REQUIRE n.patientId IS UNIQUE;
CREATE CONSTRAINT card_id IF NOT EXISTS FOR (n:Card) REQUIRE n.cardId IS UNIQUE;
CREATE CONSTRAINT referral_id IF NOT EXISTS FOR (n:Referral) REQUIRE n.referralId IS UNIQUE;
CREATE CONSTRAINT claim_id IF NOT EXISTS FOR (n:Claim) REQUIRE n.claimId IS UNIQUE;
CREATE CONSTRAINT claim_item_key IF NOT EXISTS FOR (n:ClaimItem) REQUIRE n.itemKey IS UNIQUE;
CREATE CONSTRAINT terminal_id IF NOT EXISTS FOR (n:Terminal) REQUIRE n.terminalId IS UNIQUE;
CREATE CONSTRAINT phone_value IF NOT EXISTS FOR (n:Phone) REQUIRE n.value IS UNIQUE;
CREATE CONSTRAINT address_value IF NOT EXISTS FOR (n:Address) REQUIRE n.value IS UNIQUE;
CREATE CONSTRAINT bank_account_value IF NOT EXISTS FOR (n:BankAccount) REQUIRE n.value IS UNIQUE;
CREATE CONSTRAINT device_value IF NOT EXISTS FOR (n:Device) REQUIRE n.value IS UNIQUE;
CREATE CONSTRAINT region_code IF NOT EXISTS FOR (n:Region) REQUIRE n.regionCode IS UNIQUE;
CREATE CONSTRAINT budget_key IF NOT EXISTS FOR (n:Budget) REQUIRE n.budgetKey IS UNIQUE;
CREATE CONSTRAINT case_id IF NOT EXISTS FOR (n:Case) REQUIRE n.caseId IS UNIQUE;
CREATE CONSTRAINT case_audit_id IF NOT EXISTS FOR (n:CaseAudit) REQUIRE n.auditId IS UNIQUE;
CREATE CONSTRAINT graphkit_meta_key IF NOT EXISTS FOR (n:GraphkitMeta) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT graphkit_load_fp IF NOT EXISTS FOR (n:GraphkitLoad) REQUIRE n.bundleFingerprint IS UNIQUE;
CREATE INDEX claim_start_time IF NOT EXISTS FOR (n:Claim) ON (n.startTime);
CREATE INDEX patient_death_date IF NOT EXISTS FOR (n:Patient) ON (n.deathDate);
CREATE INDEX card_status IF NOT EXISTS FOR (n:Card) ON (n.status);
