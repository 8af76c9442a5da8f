package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/org"
	"example.com/crm/tools/benchreport"
)

// appRole is the login role the api connects as: a member of crm_app, neither owner nor
// superuser, so that row-level security binds it as it binds the api in production (README
// "Row-level security and database roles").
const appRole = "crm_apibench"

// server is the PostgreSQL server the bench database is created on.
type server struct {
	url        string // superuser URL (any database)
	admin      *pgx.Conn
	postmaster int // pid of the postmaster when it runs on this machine, else 0
}

func connectServer(ctx context.Context, rawURL string) (*server, error) {
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", benchreport.Redact(rawURL), err)
	}
	s := &server{url: rawURL, admin: conn}
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err == nil {
		if ppid, _, ok := procStat(backend); ok {
			s.postmaster = ppid
		}
	}
	return s, nil
}

func (s *server) close() { _ = s.admin.Close(context.Background()) }

// dbURL is the server URL pointed at database name, as user (with password) when user is set.
func (s *server) dbURL(name, user string) (string, error) {
	u, err := url.Parse(s.url)
	if err != nil {
		return "", fmt.Errorf("parse database url: %w", err)
	}
	u.Path = "/" + name
	if user != "" {
		u.User = url.UserPassword(user, user)
	}
	return u.String(), nil
}

// tenant is one seeded org with its key.
type tenant struct {
	id  uuid.UUID
	key string
}

// leadRef names one seeded lead.
type leadRef struct {
	org int // index into seed.orgs
	id  uuid.UUID
}

// seed is the seeded bench database.
type seed struct {
	name     string
	superURL string // the database as the superuser
	appURL   string // the database as appRole
	orgs     []tenant
	sample   []leadRef // random leads of every org
	words    []string  // company words; each one is 1/len(words) of every org's leads
	leads    int64
	took     time.Duration
	size     string // pg_total_relation_size(leads)
}

// Syllables of the company words: every word is one of each, so the 1,000 words are distinct,
// none contains another, and a word is 0.1 % of an org's leads.
var (
	syl1 = []string{"Kor", "Vel", "Tam", "Bry", "Qua", "Zen", "Lum", "Dra", "Fen", "Mox"}
	syl2 = []string{"ba", "ri", "to", "ne", "lu", "va", "si", "de", "mo", "ga"}
	syl3 = []string{"lix", "ron", "tek", "via", "dyn", "gon", "sys", "nix", "ora", "plex"}
)

// companyWords lists the words in the order the seed's SQL picks them (index k % 1000).
func companyWords() []string {
	var out []string
	for c := range syl3 {
		for b := range syl2 {
			for a := range syl1 {
				out = append(out, syl1[a]+syl2[b]+syl3[c])
			}
		}
	}
	return out
}

func sqlArray(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = benchreport.PGLiteral(x)
	}
	return "ARRAY[" + strings.Join(q, ", ") + "]"
}

// seedLeadsSQL inserts $3 leads spread round-robin over the orgs $1 ($2 of them). Lead k of an
// org (k = g / orgs) gets first and last names from short lists, the company word number
// k % 1000 (in company, email and domain), a stage, a score for most, contact fields for some,
// and created_at spread over the $4 before now (two years for the API scenarios; newest last). The fingerprint is
// lead.Fingerprint(email, domain, ""), exactly what intake and POST /leads compute for such a
// lead, so every row is one the api could have written.
func seedLeadsSQL() string {
	return `
INSERT INTO leads (org_id, first_name, last_name, name, email, phone, company, website, domain, title,
	source, notes, extra, stage, stage_reason, score, score_reasons, icp_match, recommended_path, priority,
	ghost_risk, revenue_band, enrichment, scored_by, fingerprint, version, last_activity_at,
	stage_changed_at, qualified_at, created_at, updated_at)
SELECT org_id, first_name, last_name, first_name || ' ' || last_name, email, phone,
	word || ' ' || suffix, CASE WHEN k % 5 < 3 THEN 'https://' || domain END, domain, title,
	source, notes, extra, stage, NULL, score,
	CASE WHEN score IS NULL THEN '[]'::jsonb
	     ELSE '["company size fits the ICP", "title is a decision maker", "engaged with the pricing page"]'::jsonb END,
	CASE WHEN score IS NOT NULL THEN score >= 50 END,
	CASE WHEN score >= 70 THEN 'book_call' WHEN score >= 40 THEN 'nurture' WHEN score IS NOT NULL THEN 'disqualify' END,
	priority, k % 4, CASE WHEN score IS NOT NULL THEN (ARRAY['<1M', '1M-10M', '10M-50M', '50M+'])[1 + k % 4] END,
	CASE WHEN score IS NULL THEN '{}'::jsonb
	     ELSE jsonb_build_object('domain', domain, 'freeMail', false, 'employees', 10 + k % 490) END,
	CASE WHEN score IS NOT NULL THEN 'builtin' END,
	encode(sha256(convert_to(email || E'\n' || domain || E'\n', 'UTF8')), 'hex'),
	1 + k % 3, CASE WHEN k % 3 <> 0 THEN updated_at END,
	updated_at, CASE WHEN stage IN ('qualified', 'contacted', 'call_booked', 'converted') THEN updated_at END,
	created_at, updated_at
FROM (
	SELECT *, lower(first_name) || '.' || lower(last_name) || '.' || k || '@' || domain AS email
	FROM (
		SELECT *, lower(word) || '.com' AS domain,
			least(now(), created_at + (k % 1000) * interval '1 minute') AS updated_at,
			CASE WHEN stage = 'new' AND k % 2 = 0 THEN NULL ELSE (k * 37) % 101 END AS score
		FROM (
			SELECT g, k, ($1::uuid[])[1 + g % $2] AS org_id,
				(` + sqlArray([]string{"Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
		"Kira", "Liam", "Maya", "Noah", "Olga", "Paul", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wim", "Yara", "Zoe",
		"Aiko", "Bruno", "Carla", "Diego", "Emma", "Felix", "Greta", "Hana", "Igor", "Julia", "Karl", "Lena", "Marco"}) + `)[1 + k % 37] AS first_name,
				(` + sqlArray([]string{"Smith", "Mueller", "Garcia", "Rossi", "Nowak", "Jensen", "Dubois", "Silva", "Kowalski",
		"Novak", "Horvat", "Larsen", "Fischer", "Moreau", "Costa", "Weber", "Santos", "Meyer", "Kovacs", "Lindqvist",
		"Byrne", "Nakamura", "Chen", "Patel", "Okafor", "Haddad", "Ivanova", "Schulz", "Bauer", "Keller",
		"Ferreira", "Romano", "Berg", "Wagner", "Lopez", "Martin", "Petrov", "Hughes", "Young", "Ali",
		"Tanaka", "Kim", "Singh", "Cohen", "Murphy", "Walsh", "Nilsen", "Eriksen", "Varga", "Dumont", "Brandt", "Leclerc", "Mori"}) + `)[1 + (k / 37) % 53] AS last_name,
				(` + sqlArray(syl1) + `)[1 + k % 10] || (` + sqlArray(syl2) + `)[1 + (k / 10) % 10] ||
					(` + sqlArray(syl3) + `)[1 + (k / 100) % 10] AS word,
				(` + sqlArray([]string{"Labs", "GmbH", "Inc.", "Systems", "Group", "Partners", "Ltd"}) + `)[1 + (k / 1000) % 7] AS suffix,
				CASE WHEN k % 10 < 7 THEN '+1 555 ' || lpad(((k::bigint * 7919) % 10000000)::text, 7, '0') END AS phone,
				(` + sqlArray([]string{"Head of Sales", "CTO", "Founder", "Marketing Manager", "VP Engineering",
		"Operations Lead", "CFO", "Product Manager", "Procurement Officer", "Managing Director"}) + `)[1 + k % 10] AS title,
				(` + sqlArray([]string{"web form", "referral", "linkedin", "webinar", "csv import", "trade fair"}) + `)[1 + k % 6] AS source,
				CASE WHEN k % 5 = 0 THEN 'Asked for a demo of the reporting module; call back after the quarter closes.' END AS notes,
				CASE WHEN k % 4 = 0 THEN '{"utm_source": "newsletter", "utm_campaign": "spring-launch"}'::jsonb
				     ELSE '{}'::jsonb END AS extra,
				(ARRAY['new', 'new', 'new', 'new', 'new', 'new', 'new', 'new', 'qualified', 'qualified', 'qualified',
				       'nurture', 'nurture', 'contacted', 'contacted', 'call_booked', 'converted', 'lost', 'lost',
				       'disqualified'])[1 + (k * 13) % 20] AS stage,
				(ARRAY['normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'high', 'low', 'urgent'])[1 + (k * 7) % 10] AS priority,
				now() - ($3 - g) * ($4::interval / $3) AS created_at
			FROM (SELECT g, g / $2 AS k FROM generate_series(0, $3 - 1) AS g) AS n
		) AS a
	) AS b
) AS c`
}

// seedDB creates, migrates and fills the bench database.
func (s *server) seedDB(ctx context.Context, o options) (*seed, error) {
	start := time.Now()
	sd := &seed{name: o.dbName, words: companyWords()}
	var err error
	if sd.superURL, err = s.dbURL(o.dbName, ""); err != nil {
		return nil, err
	}
	if sd.appURL, err = s.dbURL(o.dbName, appRole); err != nil {
		return nil, err
	}
	ident := pgx.Identifier{o.dbName}.Sanitize()
	if !o.reuse {
		if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			return nil, fmt.Errorf("drop old %s: %w", o.dbName, err)
		}
		if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
			return nil, fmt.Errorf("create database %s: %w", o.dbName, err)
		}
		if _, err := db.Migrate(sd.superURL, "up"); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", o.dbName, err)
		}
	}
	if err := s.ensureAppRole(ctx); err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, db.Options{URL: sd.superURL, MaxConns: 4, AppName: "apibench"})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.dbName, err)
	}
	defer d.Close()
	if o.reuse {
		if err := sd.readOrgs(ctx, d, min(o.orgs, 2)); err != nil {
			return nil, err
		}
	} else {
		orgIDs := make([]uuid.UUID, o.orgs)
		for i := range o.orgs {
			c, err := org.Create(ctx, d, fmt.Sprintf("Bench Org %02d", i+1))
			if err != nil {
				return nil, fmt.Errorf("create org %d: %w", i+1, err)
			}
			sd.orgs = append(sd.orgs, tenant{id: c.OrgID, key: c.APIKey})
			orgIDs[i] = c.OrgID
		}
		if err := insertLeads(ctx, d, orgIDs, o.leads, o.leadSpan); err != nil {
			return nil, err
		}
		if _, err := d.Pool.Exec(ctx, "VACUUM (ANALYZE) leads"); err != nil {
			return nil, fmt.Errorf("vacuum leads: %w", err)
		}
		if _, err := d.Pool.Exec(ctx, "ANALYZE"); err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
	}
	if err := d.Pool.QueryRow(ctx, "SELECT count(*), pg_size_pretty(pg_total_relation_size('leads')) FROM leads").
		Scan(&sd.leads, &sd.size); err != nil {
		return nil, fmt.Errorf("count leads: %w", err)
	}
	if err := sd.sampleLeads(ctx, d); err != nil {
		return nil, err
	}
	sd.took = time.Since(start)
	return sd, nil
}

// leadIndex is a secondary index of leads, as the migrations made it.
type leadIndex struct {
	name, def string
	comment   *string
	after     []string // its statistics targets (ALTER INDEX ... SET STATISTICS)
}

// insertLeads fills leads the way a bulk load is done: the secondary indexes (every index that
// backs no constraint) are dropped first and built again afterwards from their own definitions
// (pg_get_indexdef, comments and statistics targets included), so the schema ends exactly as migrated; the unique
// fingerprint index, built last, proves the rows unique. Foreign-key triggers are off during
// the insert (session_replication_role = replica, superuser only), and the rows are checked
// against orgs afterwards instead. This takes about a third of the time of inserting into the
// indexed table row by row.
func insertLeads(ctx context.Context, d *db.DB, orgIDs []uuid.UUID, n int, span time.Duration) error {
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, `
SELECT c.relname, pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class'),
       ARRAY(SELECT format('ALTER INDEX %I ALTER COLUMN %s SET STATISTICS %s', c.relname, a.attnum, a.attstattarget)
             FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget > 0)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'leads'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY i.indisunique, c.relname`)
	if err != nil {
		return fmt.Errorf("read lead indexes: %w", err)
	}
	idx, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (leadIndex, error) {
		var x leadIndex
		err := r.Scan(&x.name, &x.def, &x.comment, &x.after)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("read lead indexes: %w", err)
	}
	exec := func(q string, args ...any) error {
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("%s: %w", firstWords(q), err)
		}
		return nil
	}
	if err := exec("SET maintenance_work_mem = '512MB'"); err != nil {
		return err
	}
	for _, x := range idx {
		if err := exec("DROP INDEX " + pgx.Identifier{x.name}.Sanitize()); err != nil {
			return err
		}
	}
	logf("seed: inserting %s leads into %d orgs", num(float64(n)), len(orgIDs))
	t := time.Now()
	if err := exec("SET session_replication_role = replica"); err != nil {
		return err
	}
	if err := exec(seedLeadsSQL(), orgIDs, len(orgIDs), n, fmt.Sprintf("%d seconds", int64(span/time.Second))); err != nil {
		return err
	}
	if err := exec("RESET session_replication_role"); err != nil {
		return err
	}
	var orphans int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM leads l WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = l.org_id)`).
		Scan(&orphans); err != nil {
		return fmt.Errorf("check lead orgs: %w", err)
	}
	if orphans != 0 {
		return fmt.Errorf("%d leads without their org", orphans)
	}
	logf("seed: inserted in %s; building %d indexes", time.Since(t).Round(time.Millisecond), len(idx))
	t = time.Now()
	for _, x := range idx {
		if err := exec(x.def); err != nil {
			return err
		}
		for _, q := range x.after {
			if err := exec(q); err != nil {
				return err
			}
		}
		if x.comment != nil {
			if err := exec("COMMENT ON INDEX " + pgx.Identifier{x.name}.Sanitize() + " IS " + benchreport.PGLiteral(*x.comment)); err != nil {
				return err
			}
		}
	}
	logf("seed: indexes built in %s; vacuum analyze", time.Since(t).Round(time.Millisecond))
	return exec("RESET maintenance_work_mem")
}

func firstWords(q string) string {
	f := strings.Fields(q)
	if len(f) > 3 {
		f = f[:3]
	}
	return strings.Join(f, " ")
}

// readOrgs finds the orgs of a kept database (at least least of them) and gives each a fresh key
// (the clear keys of the first run are gone).
func (sd *seed) readOrgs(ctx context.Context, d *db.DB, least int) error {
	rows, err := d.Pool.Query(ctx, "SELECT id FROM orgs WHERE name LIKE 'Bench Org %' ORDER BY name")
	if err != nil {
		return fmt.Errorf("read orgs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("read orgs: %w", err)
	}
	if len(ids) < least {
		return fmt.Errorf("database %s has no seeded orgs; run without -reuse", sd.name)
	}
	for _, id := range ids {
		k, err := org.CreateKey(ctx, d, id, "apibench")
		if err != nil {
			return fmt.Errorf("key for org %s: %w", id, err)
		}
		sd.orgs = append(sd.orgs, tenant{id: id, key: k.Clear})
	}
	return nil
}

// sampleLeads takes about 100,000 random leads (ids and orgs) for the load to ask for.
func (sd *seed) sampleLeads(ctx context.Context, d *db.DB) error {
	index := make(map[uuid.UUID]int, len(sd.orgs))
	for i, t := range sd.orgs {
		index[t.id] = i
	}
	pct := min(100, 100*100_000/float64(max(sd.leads, 1)))
	rows, err := d.Pool.Query(ctx, "SELECT org_id, id FROM leads TABLESAMPLE BERNOULLI ("+
		strconv.FormatFloat(pct, 'f', 4, 64)+") WHERE deleted_at IS NULL")
	if err != nil {
		return fmt.Errorf("sample leads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o, id uuid.UUID
		if err := rows.Scan(&o, &id); err != nil {
			return fmt.Errorf("sample leads: %w", err)
		}
		if i, ok := index[o]; ok {
			sd.sample = append(sd.sample, leadRef{org: i, id: id})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sample leads: %w", err)
	}
	if len(sd.sample) == 0 {
		return fmt.Errorf("no leads sampled")
	}
	return nil
}

// ensureAppRole creates crm_app (when no migration has made it yet) and appRole, a login member
// of it, the way pkg/dbtest.AppURL does for tests.
func (s *server) ensureAppRole(ctx context.Context) error {
	// Two blocks: a racing creator of the first role must not stop the creation of the second.
	for _, create := range []string{
		`CREATE ROLE crm_app NOLOGIN NOSUPERUSER NOBYPASSRLS`,
		`CREATE ROLE ` + appRole + ` LOGIN PASSWORD '` + appRole + `' NOSUPERUSER NOBYPASSRLS IN ROLE crm_app`,
	} {
		if _, err := s.admin.Exec(ctx, `DO $$ BEGIN `+create+`; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`); err != nil {
			return fmt.Errorf("create the app role: %w", err)
		}
	}
	return nil
}

// dropDB drops the bench database unless keep is set.
func (s *server) dropDB(ctx context.Context, name string, keep bool) error {
	if keep {
		return nil
	}
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}
