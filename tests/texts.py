"""Sample memories for the tests, long enough that a record is clearly smaller than its text."""

LANDLORD = (
    "#Person1#: Hi Tom, are we still meeting the landlord on Thursday? I want to sort out the lease before I travel.\n"
    "#Person2#: Yes, at 4:15 pm at 22 Baker Street. He called me yesterday and said the rent goes up to $1,450 "
    "from June 1, because the building needs a new boiler and the insurance went up as well.\n"
    "#Person1#: That's 8% more than we pay now. I'll ask Mrs. Hudson whether we can sign for 2 years instead, "
    "then the increase might be smaller. She usually prefers long leases anyway.\n"
    "#Person2#: Good idea. Bring the deposit receipt for $2,900 too, he lost his copy last spring and I don't want "
    "any argument about it when we move out.\n"
    "#Person1#: Fine. I'll also print the list of repairs: the kitchen tap, the broken window in the bedroom and "
    "the heating that stopped twice in January.\n"
    "#Person2#: Perfect. If he agrees to fix those before June, I think we should accept the new rent."
)
