//! [`Needs`]: the application data a job type's runs look up, declared with the type so that
//! a runtime built without one is refused at `build()` instead of a run finding `None`.

use std::any::{Any, TypeId};

/// What a job type's runs need from the application (see [`Job::needs`](super::Job::needs)).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use stoker::{Job, JobContext, JobError, Needs};
///
/// struct Mailer;
///
/// impl Mailer {
///     fn send(&self, _to: &str) {}
/// }
///
/// #[derive(Serialize, Deserialize)]
/// struct Welcome {
///     to: String,
/// }
///
/// impl Job for Welcome {
///     const NAME: &'static str = "welcome";
///
///     fn needs(needs: &mut Needs) {
///         needs.data::<Mailer>();
///     }
///
///     async fn run(self, ctx: JobContext) -> Result<(), JobError> {
///         ctx.needed::<Mailer>()?.send(&self.to);
///         Ok(())
///     }
/// }
/// ```
#[derive(Debug, Default)]
pub struct Needs {
    data: Vec<Need>,
}

/// One value a job type needs: its type, and its name for the refusal.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Need {
    pub(crate) id: TypeId,
    pub(crate) name: &'static str,
}

impl Needs {
    /// The runs look up a value of type `T` with [`JobContext::needed`](super::JobContext::needed),
    /// given with [`StokerBuilder::data`](crate::StokerBuilder::data).
    pub fn data<T: Any + Send + Sync>(&mut self) -> &mut Self {
        self.data.push(Need {
            id: TypeId::of::<T>(),
            name: std::any::type_name::<T>(),
        });
        self
    }

    pub(crate) fn into_data(self) -> Vec<Need> {
        self.data
    }
}
