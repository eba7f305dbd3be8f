// Package all registers every channel kind; the hub imports it for its
// side effect.
package all

import (
	_ "atoll/channels/dingtalk"
	_ "atoll/channels/feishu"
	_ "atoll/channels/slack"
	_ "atoll/channels/telegram"
	_ "atoll/channels/wechatoa"
	_ "atoll/channels/wecomkf"
	_ "atoll/channels/whatsapp"
)
