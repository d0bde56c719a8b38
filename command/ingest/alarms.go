package ingest

import (
	"fmt"
	"time"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/wire"
)

func alarmClock(kiosk string, off time.Duration) store.Alarm {
	return store.Alarm{Code: "clock_skew", KioskID: kiosk,
		Message: fmt.Sprintf("快检终端 %s 时钟偏差 %s，结果已标记 / kiosk %s clock is off by %s; its results are flagged",
			kiosk, off.Round(time.Second), kiosk, off.Round(time.Second))}
}

func alarmRegression(kiosk string, last, highest uint64) store.Alarm {
	return store.Alarm{Code: "seq_regression", KioskID: kiosk,
		Message: fmt.Sprintf("快检终端 %s 报告最大序号 %d，但指挥中心已有 %d：可能从旧备份恢复；新结果照常保存 / kiosk %s reports last seq %d but %d is stored: restored from an old backup? New results are stored, not dropped",
			kiosk, last, highest, kiosk, last, highest)}
}

func alarmFromKiosk(kiosk string, a *wire.Alarm) store.Alarm {
	return store.Alarm{Code: a.Code, KioskID: kiosk, Message: a.Message, At: a.At}
}
