package main

import (
	"context"
	"fmt"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lifecycle"
	"example.com/crm/pkg/schedule"
)

// serve runs the scheduler until shutdown.
func serve(ctx context.Context, env cli.Env) error {
	clock := newClock(env.Config.Scheduler.ClockSkew)
	if env.Config.Scheduler.ClockSkew != 0 {
		env.Log = env.Log.WithOptions(zap.WithClock(logClock{clock}))
		env.Log.Warn("SCHEDULER_CLOCK_SKEW_MS shifts this process's clock (tests only)",
			zap.Duration("skew", env.Config.Scheduler.ClockSkew))
	}
	d, err := cli.OpenDB(ctx, env, "crm-scheduler")
	if err != nil {
		return err
	}
	defer d.Close()
	reg := httpx.NewRegistry()
	queue := jobs.New(d, jobs.Config{BaseDelay: env.Config.Jobs.BaseDelay, MaxAttempts: env.Config.Jobs.MaxAttempts})
	sched := schedule.New(d, queue, env.Log.Named("schedule"))
	components := []lifecycle.Component{cli.OpsComponent(env, d, reg)}
	if env.Config.Scheduler.Enabled {
		t := newTicker(sched, env.Config.Scheduler.PollInterval, clock, env.Log, reg)
		components = append(components, lifecycle.Component{Name: "scheduler", Run: t.run})
	} else {
		env.Log.Warn("SCHEDULER_ENABLED is false: serving health only")
	}
	return lifecycle.Run(ctx, env.Log, components...)
}

// ticker runs schedule.Tick on a gocron duration job. Singleton mode makes a slow tick delay the
// next one instead of overlapping it. The timer reads clock; the slots Tick fires do not (they
// come from the database clock), so a replica whose clock is off fires the same slots, only its
// ticks are spaced by the interval from wherever it started.
type ticker struct {
	sched    *schedule.Scheduler
	interval time.Duration
	clock    skewedClock
	log      *zap.Logger
	fired    *prometheus.CounterVec
	errors   prometheus.Counter
}

func newTicker(sched *schedule.Scheduler, interval time.Duration, clock skewedClock, log *zap.Logger, reg prometheus.Registerer) *ticker {
	t := &ticker{
		sched:    sched,
		interval: interval,
		clock:    clock,
		log:      log.Named("ticker"),
		fired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crm_scheduler_enqueued_total", Help: "Jobs enqueued by the scheduler, by source (cron or scheduled).",
		}, []string{"source"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "crm_scheduler_tick_errors_total", Help: "Scheduler ticks that failed."}),
	}
	reg.MustRegister(t.fired, t.errors)
	return t
}

func (t *ticker) run(ctx context.Context) error {
	s, err := gocron.NewScheduler(gocron.WithLocation(time.UTC), gocron.WithClock(t.clock))
	if err != nil {
		return fmt.Errorf("create gocron scheduler: %w", err)
	}
	_, err = s.NewJob(
		gocron.DurationJob(t.interval),
		gocron.NewTask(func() { t.tick(ctx) }),
		gocron.WithName("schedule tick"),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithStartAt(gocron.WithStartImmediately()),
	)
	if err != nil {
		return fmt.Errorf("add tick job: %w", err)
	}
	t.log.Info("scheduler starting", zap.Duration("interval", t.interval))
	s.Start()
	<-ctx.Done()
	if err := s.Shutdown(); err != nil {
		return fmt.Errorf("stop gocron scheduler: %w", err)
	}
	return nil
}

func (t *ticker) tick(ctx context.Context) {
	tctx, cancel := context.WithTimeout(ctx, max(t.interval, 30*time.Second))
	defer cancel()
	res, err := t.sched.Tick(tctx)
	if err != nil {
		if ctx.Err() == nil {
			t.errors.Inc()
			t.log.Error("schedule tick failed", zap.Error(err))
		}
		return
	}
	t.fired.WithLabelValues("cron").Add(float64(res.CronFired))
	t.fired.WithLabelValues("scheduled").Add(float64(res.ScheduledQueued))
	if res.CronFired+res.ScheduledQueued+res.Invalid > 0 {
		t.log.Info("schedule tick", zap.Int("cron_fired", res.CronFired),
			zap.Int("scheduled_enqueued", res.ScheduledQueued), zap.Int("invalid_cron_tasks", res.Invalid))
	}
}
