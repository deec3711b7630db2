"""After the decision: trying rows on the chosen model (``trying``) and monitoring it on new
data (``monitoring``)."""
