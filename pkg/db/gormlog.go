package db

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
)

// slowQuery is the duration past which a query is logged as slow.
const slowQuery = 250 * time.Millisecond

// gormLogger sends gorm's query log to zap: errors (other than "not found") and slow queries.
type gormLogger struct {
	log   *zap.Logger
	level gormlogger.LogLevel
}

func newGormLogger(log *zap.Logger) gormlogger.Interface {
	return &gormLogger{log: log, level: gormlogger.Warn}
}

func (l *gormLogger) LogMode(level gormlogger.LogLevel) gormlogger.Interface {
	c := *l
	c.level = level
	return &c
}

func (l *gormLogger) Info(_ context.Context, msg string, args ...any) {
	if l.level >= gormlogger.Info {
		l.log.Info("gorm", zap.String("message", msg), zap.Any("args", args))
	}
}

func (l *gormLogger) Warn(_ context.Context, msg string, args ...any) {
	if l.level >= gormlogger.Warn {
		l.log.Warn("gorm", zap.String("message", msg), zap.Any("args", args))
	}
}

func (l *gormLogger) Error(_ context.Context, msg string, args ...any) {
	if l.level >= gormlogger.Error {
		l.log.Error("gorm", zap.String("message", msg), zap.Any("args", args))
	}
}

func (l *gormLogger) Trace(_ context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, context.Canceled) && l.level >= gormlogger.Error:
		sql, rows := fc()
		l.log.Debug("query failed", zap.Error(err), zap.Duration("elapsed", elapsed), zap.String("sql", sql), zap.Int64("rows", rows))
	case elapsed > slowQuery && l.level >= gormlogger.Warn:
		sql, rows := fc()
		l.log.Warn("slow query", zap.Duration("elapsed", elapsed), zap.String("sql", sql), zap.Int64("rows", rows))
	}
}
