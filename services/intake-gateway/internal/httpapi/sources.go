package httpapi

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/intake"
)

// maxCachedSources bounds the source cache. Past it, expired entries are dropped; when none has
// expired, new lookups are simply not remembered (so scanning random ids cannot grow memory).
const maxCachedSources = 10_000

// sourceCache remembers looked-up sources, and "not found", for a few seconds, so that the
// public routes cost no lookup per request. The price is staleness: a changed setting, a
// secret dropped by a rotation or a deleted source reaches the gateway after at most ttl. A new
// secret works at once: a webhook whose signature the cached secrets refuse reloads its source
// (refresh), at most once per minRefreshAge per source. Safe for concurrent use.
type sourceCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cachedSource
	// loads makes concurrent misses of one key share one lookup: when an entry expires under
	// load, a thousand waiting requests must not become a thousand lookups.
	loads singleflight.Group
}

// lookupTimeout bounds a shared lookup. It runs detached from the request that started it, so
// that one caller giving up does not fail the others waiting for it.
const lookupTimeout = 5 * time.Second

type cachedSource struct {
	src     intake.Source
	missing bool
	loaded  time.Time
	expires time.Time
}

// minRefreshAge is how old a cached source must be before a refused signature may reload it
// (refresh), so that forged signatures cost at most one lookup per source per this long.
const minRefreshAge = time.Second

func newSourceCache(ttl time.Duration, now func() time.Time) *sourceCache {
	return &sourceCache{ttl: ttl, now: now, entries: map[string]cachedSource{}}
}

// get returns the source cached under key, or loads it. A load that fails with apperr.NotFound
// is remembered as missing; other failures are not remembered.
func (c *sourceCache) get(ctx context.Context, key string, load func(ctx context.Context) (intake.Source, error)) (intake.Source, error) {
	if c.ttl <= 0 {
		return load(ctx)
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		if e.missing {
			return intake.Source{}, notFound()
		}
		return e.src, nil
	}
	ch := c.loads.DoChan(key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
		defer cancel()
		src, err := load(lctx)
		missing := apperr.Is(err, apperr.NotFound)
		if err != nil && !missing {
			return nil, err
		}
		now := c.now()
		e := cachedSource{src: src, missing: missing, loaded: now, expires: now.Add(c.ttl)}
		c.put(key, e)
		return e, nil
	})
	select {
	case <-ctx.Done():
		return intake.Source{}, fmt.Errorf("look up intake source: %w", ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return intake.Source{}, res.Err
		}
		e, _ := res.Val.(cachedSource)
		if e.missing {
			return intake.Source{}, notFound()
		}
		return e.src, nil
	}
}

// refresh drops the entry of key when it was loaded at least minRefreshAge ago and loads it
// again, as get would: for a signature that the cached secrets refuse, which may be signed with
// a secret rotated in since. ok is false when nothing was reloaded (no cache, or an entry too
// young to reload), and the caller keeps its answer.
func (c *sourceCache) refresh(ctx context.Context, key string, load func(ctx context.Context) (intake.Source, error)) (src intake.Source, ok bool, err error) {
	if c.ttl <= 0 {
		return intake.Source{}, false, nil
	}
	c.mu.Lock()
	e, found := c.entries[key]
	if found && c.now().Sub(e.loaded) < minRefreshAge {
		c.mu.Unlock()
		return intake.Source{}, false, nil
	}
	delete(c.entries, key)
	c.mu.Unlock()
	src, err = c.get(ctx, key, load)
	return src, true, err
}

func (c *sourceCache) put(key string, e cachedSource) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedSources {
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedSources {
			return
		}
	}
	c.entries[key] = e
}

// webhookSource returns the live webhook source id (apperr.NotFound otherwise).
func (s *Server) webhookSource(ctx context.Context, id uuid.UUID) (intake.Source, error) {
	return s.sources.get(ctx, "webhook:"+id.String(), s.loadWebhookSource(id))
}

// refreshWebhookSource reloads the cached webhook source id (sourceCache.refresh).
func (s *Server) refreshWebhookSource(ctx context.Context, id uuid.UUID) (intake.Source, bool, error) {
	return s.sources.refresh(ctx, "webhook:"+id.String(), s.loadWebhookSource(id))
}

func (s *Server) loadWebhookSource(id uuid.UUID) func(ctx context.Context) (intake.Source, error) {
	return func(ctx context.Context) (intake.Source, error) { return intake.SourceForWebhook(ctx, s.DB, id) }
}

// formSource returns the live form source of token (apperr.NotFound otherwise).
func (s *Server) formSource(ctx context.Context, token string) (intake.Source, error) {
	return s.sources.get(ctx, "form:"+token, func(ctx context.Context) (intake.Source, error) {
		return intake.SourceForForm(ctx, s.DB, token)
	})
}

// csvSource returns the live csv source id of orgID (apperr.NotFound otherwise).
func (s *Server) csvSource(ctx context.Context, orgID, id uuid.UUID) (intake.Source, error) {
	return s.sources.get(ctx, "csv:"+orgID.String()+":"+id.String(), func(ctx context.Context) (intake.Source, error) {
		return intake.SourceForCSV(ctx, s.DB, orgID, id)
	})
}
