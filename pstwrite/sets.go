package pstwrite

// Property sets of named properties (MS-OXPROPS 1.3.2).
var (
	PSETIDAddress     = MustGUID("00062004-0000-0000-C000-000000000046") // contacts, distribution lists
	PSETIDAppointment = MustGUID("00062002-0000-0000-C000-000000000046")
	PSETIDTask        = MustGUID("00062003-0000-0000-C000-000000000046")
	PSETIDCommon      = MustGUID("00062008-0000-0000-C000-000000000046")
	PSETIDMeeting     = MustGUID("6ED8DA90-450B-101B-98DA-00AA003F1305")
	PSPublicStrings   = psPublicStrings
)
